"""tgcheck's benchmarks against baselines, in one command.

    python -m benchmarks            # full run (~10 minutes on 2 cores)
    python -m benchmarks --quick    # smaller inputs, one repeat (~2 minutes)
    python -m benchmarks --only 1,3 # some figures

Prints one table (figure, tgcheck, baseline, ratio, goal, met?) and writes it to
benchmarks/results/latest.md with the machine it ran on. Times are medians of a
few repeats (the machine is shared and noisy). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from benchmarks import bench_scale, polling_sim
from benchmarks.bench_deadlines import fig_deadlines
from benchmarks.bench_interrupt import fig_interrupt
from benchmarks.common import Row, SandboxProcess, median_of

RESULTS = Path(__file__).parent / "results"


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}"


# -- 1. status calls and lag ------------------------------------------------
def fig_polling(quick: bool) -> list[Row]:
    n = 60 if quick else 300
    lengths = polling_sim.LENGTHS_MIN
    # What users get (the engine passes the set's size; poll_max defaults to
    # 1800 s) carries the goal; the others show what each of those two choices
    # is worth, and carry none.
    shipped = "tgcheck: size prior, poll_max 1800"
    policies = {
        shipped: lambda t: polling_sim.tgcheck_policy(t, poll_max=1800),
        "ablation: size prior, poll_max 300": lambda t: polling_sim.tgcheck_policy(t),
        "ablation: no prior, poll_max 1800":
            lambda t: polling_sim.tgcheck_policy(t, poll_max=1800, prior=False),
        "ablation: no prior, poll_max 300":
            lambda t: polling_sim.tgcheck_policy(t, prior=False),
    }
    baselines = {
        "fixed 5 s": polling_sim.fixed_policy(5.0),
        "api-core 1 s x1.5 <=20 s": polling_sim.api_core_policy,
    }
    sweeps = {name: polling_sim.sweep(p, tasks_per_length=n, lengths=lengths)
              for name, p in {**policies, **baselines}.items()}
    fixed = {r.length_min: r for r in sweeps["fixed 5 s"]}
    core = {r.length_min: r for r in sweeps["api-core 1 s x1.5 <=20 s"]}
    rows = []
    for name in policies:
        goal = name == shipped
        by_len = {r.length_min: r for r in sweeps[name]}
        r30 = by_len[30]
        rows.append(Row(
            f"1 sim: status calls, 30-min task, max of {n} [{name}]", str(r30.calls_max),
            str(fixed[30].calls_max), ratio=f"{r30.calls_max / fixed[30].calls_max:.3f}x",
            goal="<= 10" if goal else "-", met=r30.calls_max <= 10 if goal else None,
            note=f"api-core: {core[30].calls_max}"))
        worst = max(sweeps[name], key=lambda r: r.lag_share_max)
        lag_max = max(r.lag_max for r in sweeps[name])
        rows.append(Row(
            f"1 sim: worst lag, 1-60 min, % of length (s) [{name}]",
            f"{100 * worst.lag_share_max:.1f}% ({lag_max:.0f} s)",
            f"{100 * max(r.lag_share_max for r in sweeps['fixed 5 s']):.1f}% (5 s)",
            goal="< 5%, < 60 s" if goal else "-",
            met=worst.lag_share_max < 0.05 and lag_max < 60 if goal else None,
            ratio="-"))
    rows.append(Row(
        "1 sim: api-core baseline, 30-min calls / worst lag %",
        f"{core[30].calls_max} / {100 * max(r.lag_share_max for r in core.values()):.1f}%",
        None, ratio="-"))
    per_len = " ".join(
        f"{int(r.length_min)}m:{r.calls_median:g}/{r.lag_median:.0f}s"
        for r in sweeps[shipped])
    rows.append(Row("1 sim: median calls/lag per length (prior, poll_max 1800)", per_len, None,
                    ratio="-"))
    rows.extend(_stuck_rows(quick))
    rows.extend(_polling_end_to_end(quick))
    return rows


def _stuck_rows(quick: bool) -> list[Row]:
    """A task that never moves (pending for ever, or a word tgcheck does not know):
    billed status calls over 2 minutes and over the default 4-hour timeout. The
    baseline is the schedule before the budget: every poll_min (2 s) for a small set."""
    rows = []
    for word in ("pending", "on_hold"):
        short = polling_sim.stuck_calls(polling_sim.stuck_policy(), 120, word=word)
        long = polling_sim.stuck_calls(polling_sim.stuck_policy(), 4 * 3600, word=word)
        rows.append(Row(
            f"1 sim: never-moving 19-number task ({word}), calls in 2 min / in 4 h",
            f"{short} / {long}", "60 / 7200 (every 2 s)", goal="<= 8 / <= 20",
            met=short <= 8 and long <= 20, ratio="-"))
    rows.append(_stuck_end_to_end(quick))
    return rows


def _stuck_end_to_end(quick: bool) -> Row:
    """The same through the real engine and a sandbox whose task never moves, the
    clock scaled (poll bounds and timeout divided by the scale): billed status
    calls until the 4-hour timeout, and the job's state after it."""
    import tgcheck
    from tgcheck.sandbox import Sandbox

    scale = 2400.0 if quick else 600.0
    with Sandbox(stuck="pending") as sb, tempfile.TemporaryDirectory() as home:
        settings = tgcheck.Settings(api_key=sb.api_key, base_url=sb.url, home=home,
                                    poll_min=2.0 / scale, poll_max=1800.0 / scale,
                                    timeout=4 * 3600.0 / scale, retry_base=0.01)
        engine = tgcheck.Engine(settings)
        try:
            engine.check(numbers(19))
            state = "done?"
        except tgcheck.TgcheckError:
            state = engine.store.jobs()[0].state
        finally:
            engine.close()
        calls = sb.billed["status"]
    return Row(f"1 e2e engine+sandbox x{scale:g}: never-moving task, calls in 4 h (job state)",
               f"{calls} ({state})", "7200 (every 2 s)", goal="<= 20", met=calls <= 20,
               ratio="-")


def _polling_end_to_end(quick: bool) -> list[Row]:
    """A few tasks through the real engine and sandbox, sandbox time scaled.

    The lag runs from the file being ready to check() returning the answers.
    The schedule's seconds-valued constants are scaled with the clock (the engine
    sees real seconds). Each task runs at a scale that keeps it several real
    seconds long: at x60 a 1-minute task lasts one real second, and a 5 ms
    loopback round trip or a late thread wake-up would count as 0.3 s of lag.
    """
    import tgcheck
    from tgcheck import polling
    from tgcheck.default_plugins.ekycpro.client import EkycproProvider
    from tgcheck.sandbox import Sandbox

    # (minutes, queue seconds, time scale)
    tasks = ((5, 40.0, 60.0), (30, 90.0, 120.0)) if quick else \
        ((1, 10.0, 10.0), (5, 40.0, 30.0), (30, 90.0, 60.0), (60, 120.0, 120.0))
    saved = {k: getattr(polling, k) for k in ("LAG_CAP", "EXPORT_GUESS")}
    # The schedule's prior is the provider's rate (the contract's typical_rate), so
    # that is what the clock scales, not the core's fallback.
    saved_rate = EkycproProvider.typical_rate
    rows = []
    try:
        for minutes, queue, scale in tasks:
            polling.LAG_CAP = saved["LAG_CAP"] / scale
            polling.EXPORT_GUESS = saved["EXPORT_GUESS"] / scale
            EkycproProvider.typical_rate = saved_rate * scale
            export = 6.0
            count = int(11 * (minutes * 60 - queue - export))
            with Sandbox(speed=11.0, queue_seconds=queue, export_seconds=export,
                         time_scale=scale, quirks=False) as sb, \
                    tempfile.TemporaryDirectory() as home:
                settings = tgcheck.Settings(api_key=sb.api_key, base_url=sb.url, home=home,
                                            poll_min=2.0 / scale, poll_max=1800.0 / scale,
                                            retry_base=0.01)
                seen: list[float] = []

                def on_event(e, seen=seen):
                    if e.kind == "progress" and e.status == "exported" and not seen:
                        seen.append(time.monotonic())

                engine = tgcheck.Engine(settings)
                try:
                    engine.check(numbers(count), on_event=on_event)
                    returned = time.monotonic()
                finally:
                    engine.close()
                task = next(iter(sb.tasks.values()))
                ready = task.created + (queue + count / 11.0 + export) / scale
                # Waiting is in sandbox time (scaled); downloading, reading and
                # storing the file is real work, counted as it took.
                lag = (seen[0] - ready) * scale + (returned - seen[0])
                calls = sb.billed["status"]
                length = minutes * 60
                ok = lag < min(0.05 * length, 60) and (minutes != 30 or calls <= 10)
                rows.append(Row(
                    f"1 e2e engine+sandbox x{scale:g}: {minutes}-min task, "
                    "calls / lag to answers (s)",
                    f"{calls} / {lag:.1f}", f"{int(length / 5)} / 2.5 (fixed 5 s)",
                    goal="<5% lag" + (", <=10 calls" if minutes == 30 else ""), met=ok,
                    ratio="-"))
    finally:
        for k, v in saved.items():
            setattr(polling, k, v)
        EkycproProvider.typical_rate = saved_rate
    return rows


# -- 2. the CLI's whole process against a naive client's, cold and cached ------------
def fig_client(quick: bool) -> list[Row]:
    from benchmarks import bench_process

    return bench_process.measure(50_000 if quick else 200_000, repeat=1 if quick else 5)


# -- 3. normalisation -----------------------------------------------------------
def phonenumbers_loop(values) -> list:
    import phonenumbers

    out = []
    for value in values:
        if isinstance(value, float):
            text = "+" + str(int(value))
        else:
            text = value.strip()
            if text.startswith("00"):
                text = "+" + text[2:]
        try:
            parsed = phonenumbers.parse(text, None)
            out.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            out.append(None)
    return out


def messy(n: int) -> list:
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(float(41790000000 + i))  # an Excel float
        elif kind == 1:
            d = f"{i:07d}"
            out.append(f"+41 79 {d[:3]} {d[3:5]} {d[5:]}")  # spaces
        elif kind == 2:
            out.append(f"004179{i:07d}")  # 00 prefix
        else:
            out.append(f" +4179{i:07d} ")  # padded
    return out


def fig_normalise(quick: bool) -> list[Row]:
    from tgcheck.normalize import resolve_all

    n = 200_000 if quick else 1_000_000
    sample = 20_000 if quick else 50_000
    repeat = 1 if quick else 3
    rows = []
    for label, values in (("clean E.164", numbers(n)), ("messy", messy(n))):
        ours = median_of(lambda v=values: resolve_all(v, None), repeat)
        base = median_of(lambda v=values: phonenumbers_loop(v[:sample]), repeat) * n / sample
        rows.append(Row(f"3 normalise {n:,} {label} (s)", ours, base, goal=">= 5x faster",
                        met=base / ours >= 5, ratio=f"{ours / base:.2f}x",
                        note=f"baseline timed on {sample:,}, scaled"))
    # A region column (issue 13): one region per row, in the forms exports hold
    # them, against the same numbers with one region for all.
    clean = numbers(n)
    column = ["CH", "Switzerland", "41", "GB", "UK", "FR", "", "India"] * (n // 8)
    column += ["CH"] * (n - len(column))
    single = median_of(lambda: resolve_all(clean, "CH"), repeat)
    per_row = median_of(lambda: resolve_all(clean, column), repeat)
    rows.append(Row(f"3 normalise {n:,} clean E.164, a region column (s)", per_row, single,
                    goal="<= 2x", met=per_row / single <= 2, ratio=f"{per_row / single:.2f}x",
                    note="baseline: the same numbers with one region for all"))
    return rows


# -- 4. reading result files ------------------------------------------------------
def _result_files(n: int) -> tuple[bytes, bytes]:
    """An xlsx and a zip-CSV of n result rows, shuffled, cached on disk."""
    RESULTS.mkdir(exist_ok=True)
    xlsx_path, zip_path = RESULTS / f"result-{n}.xlsx", RESULTS / f"result-{n}.zip"
    if not xlsx_path.exists() or not zip_path.exists():
        import csv

        import xlsxwriter

        rows = [(p, "yes" if i % 3 else "no") for i, p in enumerate(numbers(n))]
        random.Random(1).shuffle(rows)
        book = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
        sheet = book.add_worksheet("Results")
        sheet.write_row(0, 0, ("Number", "telegram"))
        for i, (p, v) in enumerate(rows, start=1):
            sheet.write_string(i, 0, p)
            sheet.write_string(i, 1, v)
        book.close()
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(("Number", "telegram"))
        writer.writerows(rows)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("result.csv", text.getvalue())
        zip_path.write_bytes(buf.getvalue())
    return xlsx_path.read_bytes(), zip_path.read_bytes()


def openpyxl_read(data: bytes) -> dict:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    next(rows)
    return {n: v for n, v in rows}


def fig_readers(quick: bool) -> list[Row]:
    import tgcheck
    from tgcheck import plugins

    n = 200_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    xlsx, zipped = _result_files(n)
    ttype = tgcheck.plugins.get_task_type("tg")

    def read(data):
        reader = next(r for r in plugins.readers() if r.accepts(data))
        found = reader.read(data, ttype)
        assert len(found) == n, len(found)
        return found

    ours_x = median_of(lambda: read(xlsx), repeat)
    ours_z = median_of(lambda: read(zipped), repeat)
    base = median_of(lambda: openpyxl_read(xlsx), 1)
    return [
        Row(f"4 read {n:,}-row xlsx (s)", ours_x, base, goal="<= 0.2x openpyxl ro",
            met=ours_x / base <= 0.2),
        Row(f"4 read {n:,}-row zip-CSV (s)", ours_z, base,
            goal="<= 0.2x openpyxl ro (same rows)", met=ours_z / base <= 0.2),
    ]


# -- 5. cached checks -------------------------------------------------------------
def fig_cached(quick: bool) -> list[Row]:
    import tgcheck
    from benchmarks import bench_duckdb, bench_excel
    from tgcheck.store import StoredAnswer

    n = 200_000 if quick else 1_000_000
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as home:
        settings = tgcheck.Settings(api_key="bench", base_url="http://127.0.0.1:9", home=home)
        engine = tgcheck.Engine(settings)
        phones = numbers(n)
        engine.store.import_answers(StoredAnswer("tg", p, "yes" if i % 2 else "no", "ok",
                                                 time.time(), "bench")
                                    for i, p in enumerate(phones))
        try:
            ours = median_of(lambda: engine.check(phones), repeat)
        finally:
            engine.close()
    rows = [Row(f"5 Engine.check, {n:,} answered numbers (s)", ours, None, goal="-",
                note="no baseline: the store is the only path")]
    rows.extend(bench_duckdb.measure(n, baseline_sample=5_000 if quick else 20_000,
                                     repeat=repeat))
    rows.extend(bench_excel.measure(repeat=3 if quick else 7))
    return rows


# -- 6. peak memory -----------------------------------------------------------------
MEMORY_CHILD = r"""
import sys, tempfile, time, tgcheck
n, url, key, home, cached = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
phones = [f"+4179{i:07d}" for i in range(n)]
settings = tgcheck.Settings(api_key=key, base_url=url, home=home, poll_min=0.05, poll_max=1)
engine = tgcheck.Engine(settings)
if cached == "1":
    from tgcheck.store import StoredAnswer
    engine.store.import_answers(StoredAnswer("tg", p, "yes", "ok", time.time(), "bench")
                                for p in phones)
answers = engine.check(phones)
assert len(answers) == n
"""

MEMORY_WRAPPER = r"""
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(args: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", MEMORY_WRAPPER, MEMORY_CHILD, *args],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024


def fig_memory(quick: bool) -> list[Row]:
    n = 200_000 if quick else 1_000_000
    rows = []
    with SandboxProcess(speed=1e7, queue_seconds=0.05, export_seconds=0.05,
                        result_format="zip") as sb:
        for label, cached in (("cached", "1"), ("cold vs sandbox", "0")):
            with tempfile.TemporaryDirectory() as home:
                mb = peak_rss_mb([str(n), sb.url, sb.api_key, home, cached])
            rows.append(Row(f"6 peak RSS MB, {n:,}-number check, {label}", mb, None,
                            goal="< 500 MB", met=mb < 500))
    return rows


FIGURES = {
    "1": fig_polling, "2": fig_client, "3": fig_normalise, "4": fig_readers,
    "5": fig_cached, "6": fig_memory, "7": fig_interrupt, "8": fig_deadlines,
    "scale": bench_scale.measure,
}


def render(rows: list[Row], header: str) -> str:
    table = [["figure", "tgcheck", "baseline", "ratio", "goal", "met?"]] + \
        [r.cells() for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(6)]
    lines = [header, ""]
    for i, r in enumerate(table):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="tgcheck benchmarks against baselines")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, one repeat")
    parser.add_argument("--only", default="", help="comma-separated figures, e.g. 1,3")
    args = parser.parse_args(argv)
    os.environ["TGCHECK_LOAD_PLUGINS"] = ""
    chosen = [f for f in FIGURES if not args.only or f in args.only.split(",")]
    rows: list[Row] = []
    start = time.perf_counter()
    for key in chosen:
        t0 = time.perf_counter()
        try:
            rows.extend(FIGURES[key](args.quick))
        except Exception as e:  # one broken figure must not lose the others
            rows.append(Row(f"{key} FAILED: {type(e).__name__}: {str(e)[:80]}", "-"))
        print(f"[figure {key}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    header = (f"tgcheck benchmarks ({'quick' if args.quick else 'full'}), "
              f"{time.strftime('%Y-%m-%d %H:%M')}; {machine()}; "
              f"total {time.perf_counter() - start:.0f} s")
    text = render(rows, header)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
