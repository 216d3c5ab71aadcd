"""Bad input, at scale: a corpus of real-spreadsheet cells with their right answers,
and property tests that the normaliser and the readers fail only in the project's
own, clear ways.

The corpus (tests/data/input_corpus.csv) holds what users paste: display formats,
Excel's float and scientific forms, national numbers with and without a region,
placeholders, junk.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from unittest import mock

import pytest
import xlsxwriter
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import child_env, numbers
from paths import DATA
from tgcheck import input_limits, normalise, plugins, tables
from tgcheck.input_limits import MAX_CELL_CHARS
from tgcheck.normalize import resolve_all

CORPUS = DATA / "input_corpus.csv"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TG = plugins.get_task_type("tg")


def corpus_rows() -> list:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [pytest.param(row, id=f"{i:03d}") for i, row in enumerate(rows)]


def test_the_corpus_is_large_and_covers_every_outcome():
    rows = [p.values[0] for p in corpus_rows()]
    assert len(rows) >= 100
    assert {r["status"] for r in rows} == {"ok", "invalid", "blank"}
    assert sum(bool(r["region"]) for r in rows) >= 20


@pytest.mark.parametrize("row", corpus_rows())
def test_corpus_row(row):
    result = normalise(row["input"], row["region"] or None)
    assert (result.number or "", result.status) == (row["expected"], row["status"]), row["note"]
    if result.status == "invalid":
        assert result.reason  # every refusal says why


def test_corpus_through_the_engine_sends_only_valid_numbers(engine, sandbox):
    """The corpus, one column per region: only valid numbers are sent, each once."""
    rows = [p.values[0] for p in corpus_rows() if not p.marks]
    by_region: dict[str, list] = {}
    for row in rows:
        by_region.setdefault(row["region"].upper(), []).append(row)
    for region, group in sorted(by_region.items()):
        answers = engine.check([r["input"] for r in group], region=region or None)
        for row, answer in zip(group, answers, strict=True):
            assert answer.number == (row["expected"] or None), row["note"]
            if row["status"] != "ok":
                assert answer.status == row["status"]
    sent = {n for task in sandbox.tasks.values() for n in task.numbers}
    assert sent == {r["expected"] for r in rows if r["expected"]}
    # Each number paid for once: groups whose numbers were already answered send none.
    assert sum(len(task.numbers) for task in sandbox.tasks.values()) == len(sent)
    assert sandbox.creates == len(sandbox.tasks)


# -- the normaliser: properties beyond tests/core/test_normalize.py ----------------------

REGIONS = st.sampled_from([None, "", "CH", "ch", "TR", "US", "GB", "DE", "FR", "RU", "IN",
                           "XX", "ZZZ", "c h", "\u00df", "001"])
WILD = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd", "Cf", "Ps", "Pe"]),
            max_size=40),
    st.from_regex(r"\A[+0]?[0-9 ().\-]{0,25}(\.0+|[eE][+-]?\d{1,3})?\Z"),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=True),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(WILD, REGIONS)
def test_normaliser_never_raises_on_any_cell_or_region(value, region):
    # Issue 13: a region that names no country is a usage error (RegionError, a
    # ValueError), never silently "no region"; any cell with a known region is fine.
    from tgcheck.regions import RegionError, lookup

    if region and region.strip() and lookup(region) is None:
        with pytest.raises(RegionError):
            normalise(value, region)
        return
    result = normalise(value, region)
    assert result.status in ("ok", "invalid", "blank")
    assert (result.number is None) == (result.status != "ok")
    if result.number is not None:
        assert E164.match(result.number)
        again = normalise(result.number, region)  # idempotent, region-blind
        assert (again.number, again.status) == (result.number, result.status)


def test_normaliser_never_raises_on_huge_integers():
    assert normalise(10 ** 5000).status == "invalid"


valid_numbers = st.sampled_from([
    "+41798284651", "+905321234567", "+16502530000", "+447911123456", "+491711234567",
    "+33612345678", "+390669821234", "+79123456789", "+8613800138000", "+5511912345678",
])


@settings(max_examples=300, deadline=None)
@given(valid_numbers, st.lists(st.sampled_from([" ", "-", ".", "\u00a0", "\u2011", "/"]),
                               min_size=12, max_size=12),
       st.lists(st.booleans(), min_size=12, max_size=12), st.sampled_from(["+", "00", ""]))
def test_every_common_formatting_of_a_number_reads_back_the_same(number, seps, cuts, prefix):
    digits = number[1:]
    text = "".join(d + (s if cut else "") for d, s, cut in zip(digits, seps, cuts,
                                                                 strict=False))
    text += digits[len(seps):]
    # Digits with one "." before nothing but zeros are a decimal, as Excel writes a
    # float as text ("16502530.000" is 16,502,530): read as one, on purpose.
    assume(not re.fullmatch(r"\d+\.0+", text))
    assert normalise(prefix + text).number == number
    assert normalise(float(digits)).number == number  # how Excel hands it over
    assert normalise(int(digits)).number == number
    assert normalise(digits + ".0").number == number


# -- bounded input: a cell over the limit is a row, not the memory (issue 20) ------------

PEAK = textwrap.dedent("""
    import atexit, runpy, sys
    # VmHWM: this process's own peak (a new one at exec; ru_maxrss would carry
    # the forking pytest's).
    target = sys.argv[1]
    def peak():
        with open("/proc/self/status") as f:
            kb = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
        with open(target, "w") as out:
            out.write(str(kb // 1024))
    atexit.register(peak)
    sys.argv = ["tgcheck", *sys.argv[2:]]
    runpy.run_module("tgcheck", run_name="__main__")
""")


def run_measured(args: list, env: dict, tmp_path) -> tuple[int, int, str]:
    """The real CLI in a child: (exit code, its peak RSS in MB, stdout + stderr)."""
    peak = tmp_path / "peak"
    done = subprocess.run([sys.executable, "-c", PEAK, str(peak), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)
    text = done.stdout + done.stderr
    assert peak.exists(), f"the child died (exit {done.returncode}): {text[-2000:]}"
    return done.returncode, int(peak.read_text()), text


def write_long_line(path, before: str, middle: bytes, after: str, size: int) -> None:
    """before, then `middle` repeated to `size` bytes on one line, then after."""
    with path.open("wb") as f:
        f.write(before.encode())
        block = middle * (1 << 20)
        for _ in range(size // len(block)):
            f.write(block)
        f.write(after.encode())


def test_a_300_mb_line_in_a_txt_is_one_invalid_row_in_bounded_memory(tmp_path, sandbox):
    """A 1 GB line peaked at 7.2 GB; 300 MB stays under 400 MB and is a row: invalid,
    reason too_long, its first 1,025 characters kept, never sent."""
    a, b = numbers(2)
    source, out = tmp_path / "numbers.txt", tmp_path / "out.csv"
    write_long_line(source, f"{a}\n{a}", b"9", f"\n{b}\n", 300_000_000)
    env = child_env(sandbox, tmp_path / "home")
    code, peak_mb, text = run_measured(["check", source, "-o", out], env, tmp_path)
    assert code == 0, text[-2000:]
    assert peak_mb < 400, peak_mb
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "invalid", "ok"]
    assert rows[1]["reason"].startswith("too_long: ")
    assert rows[1]["input"] == a + "9" * (MAX_CELL_CHARS + 1 - len(a))
    assert {n for task in sandbox.tasks.values() for n in task.numbers} == {a, b}


def test_a_300_mb_csv_line_is_refused_in_bounded_memory(tmp_path):
    """A 1 GB CSV field was refused at 2.1 GB; a line over the limit is refused
    (exit 2, its line named) before it is held."""
    source = tmp_path / "numbers.csv"
    write_long_line(source, "phone,name\n+41798284651,a\n\"", b"x", "\",b\n", 300_000_000)
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_LOAD_PLUGINS="")
    env.pop("TGCHECK_API_KEY", None)
    code, peak_mb, text = run_measured(["check", source, "--dry-run"], env, tmp_path)
    assert code == 2, text[-2000:]
    assert "line 3: longer than 4,194,304 characters" in text
    assert peak_mb < 400, peak_mb


def test_a_csv_number_cell_over_the_limit_is_invalid_too_long(tmp_path):
    source = tmp_path / "numbers.csv"
    # Padded past the limit, even a good number is no cell a phone number fills.
    source.write_text("phone\n+41798284651\n+41798284652" + " " * 2000 + "\n",
                      encoding="utf-8")
    table = tables.open_input(str(source))
    found = resolve_all(list(table.numbers()))
    assert found[0] == "+41798284651"
    assert found[1].status == "invalid" and found[1].reason.startswith("too_long: ")


@pytest.mark.parametrize("cell", ["+41798284651" + " " * 2000, "x" * 5000,
                                  "+41 79 828 46 51" + "\u00a0" * 1100])
def test_a_cell_over_the_limit_is_invalid_on_every_path(cell):
    """The fast path's second chance (spaces taken out) must not read a valid
    number out of a padded cell over the limit: every face gets too_long."""
    assert len(cell) > MAX_CELL_CHARS
    single = normalise(cell)
    (many,) = resolve_all([cell])
    for found in (single, many):
        assert found.status == "invalid" and found.reason.startswith("too_long: "), found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab \r", max_size=12), st.just("")), max_size=12),
       st.integers(1, 9), st.sampled_from(["", "\n"]))
def test_a_large_txt_read_in_blocks_is_its_lines_with_long_ones_cut(parts, block, end):
    """Block by block (as a .txt over WHOLE_BYTES is read), with tiny blocks and a
    tiny limit: the same lines as one split, each over the limit cut."""
    text = "\n".join(parts) + end
    with mock.patch.multiple(input_limits, BLOCK_CHARS=block, MAX_CELL_CHARS=4):
        got = input_limits.text_lines(io.StringIO(text), size=1 << 40)
        want = text.split("\n")
        if want and want[-1] == "":
            want.pop()  # a final newline ends the last line (whole: a "" the reader drops)
        assert got == [line[:5] for line in want]


@pytest.mark.parametrize("far", [(3, 5), (1_048_575, 8), (1_048_575, 16_383)])
def test_an_xlsx_input_with_a_far_cell_is_read_in_bounded_memory(tmp_path, sandbox, far):
    """One cell at I1048576 (or XFD1048576) made calamine allocate the whole grid
    (~330 MB, or 17 billion cells): such a sheet is streamed, memory follows its
    cells; a dense one (F4) is calamine's, with the same rows."""
    a, b = numbers(2)
    source, out = tmp_path / "numbers.xlsx", tmp_path / "out.csv"
    book = xlsxwriter.Workbook(str(source))
    sheet = book.add_worksheet("Leads")
    sheet.write_row(0, 0, ["phone", "name"])
    sheet.write_row(1, 0, [a, "x" * 20_000])  # kept whole: Excel's own cell limit is 32,767
    sheet.write_number(2, 0, float(b[1:]))
    sheet.write_string(*far, "far away")
    book.close()
    env = child_env(sandbox, tmp_path / "home")
    code, peak_mb, text = run_measured(["check", source, "-o", out], env, tmp_path)
    assert code == 0, text[-2000:]
    assert peak_mb < 100, peak_mb
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["number"], r["status"]) for r in rows] == [(a, "ok"), (b, "ok"), ("", "blank")]
    assert rows[0]["name"] == "x" * 20_000
    assert {n for task in sandbox.tasks.values() for n in task.numbers} == {a, b}


def test_an_xlsx_input_that_unpacks_to_a_bomb_is_refused_in_bounded_memory(tmp_path):
    """A 300 KB xlsx whose one shared string is 300 MB was read at 888 MB: refused
    from its zip directory (exit 2), before calamine holds the string."""
    plain, source = tmp_path / "plain.xlsx", tmp_path / "numbers.xlsx"
    book = xlsxwriter.Workbook(str(plain))
    book.add_worksheet().write_row(0, 0, ["phone", "LONGNOTE"])
    book.close()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(b"LONGNOTE", b"x" * 300_000_000)
            z.writestr(info.filename, data)
    assert source.stat().st_size < 1_000_000
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_LOAD_PLUGINS="")
    env.pop("TGCHECK_API_KEY", None)
    code, peak_mb, text = run_measured(["check", source, "--dry-run"], env, tmp_path)
    assert code == 2, text[-2000:]
    assert "times its size (a zip bomb?)" in text
    assert peak_mb < 100, peak_mb
