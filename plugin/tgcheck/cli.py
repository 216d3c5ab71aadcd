"""The `tgcheck` command. It parses, displays and writes; the engine does the work."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import sys
import tempfile
from pathlib import Path

import click

from . import plugins
from .engine import Engine
from .errors import InputError, TgcheckError
from .progress import ProgressDisplay
from .settings import Settings

SIMULATED_BANNER = (
    "tgcheck: SIMULATED answers from the built-in sandbox, not real Telegram data. "
    "Set TGCHECK_API_KEY and drop --sandbox for real checks."
)


def _fail(message: str, code: int) -> None:
    click.echo(f"tgcheck: error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """One clear line and a documented exit code; a traceback only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False) or os.environ.get("TGCHECK_DEBUG")
        try:
            return fn(*args, **kwargs)
        except TgcheckError as e:
            if debug:
                raise
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted; open jobs stay in the journal and the next run attaches to "
                  "them", 130)

    return click.option("--debug", is_flag=True, help="Show tracebacks.")(wrapper)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tgcheck")
def cli():
    """Check in bulk which phone numbers have a Telegram account.

    \b
    Examples:
      tgcheck check examples/numbers.txt --sandbox   # try it, no key needed
      TGCHECK_API_KEY=... tgcheck check numbers.txt -o answers.csv
    """


def read_lines(path: str) -> list[str]:
    """A text file, one number per line, kept line for line (blank lines included)."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{path}: no such file")
        if p.is_dir():
            raise InputError(f"{path}: is a directory, not a file of numbers")
        data = p.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file, not text with one number per line")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 rarely fails, latin-1 never does
        text = data.decode("latin-1")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # a trailing newline is not a blank input
    if not lines:
        raise InputError(f"{path}: is empty")
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Never leave a half-written output file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def engine_for(sandbox: bool, base_url: str | None, **overrides):
    """An Engine from the environment, or aimed at an embedded sandbox."""
    if not sandbox:
        engine = Engine(Settings.from_env(base_url=base_url, **overrides))
        try:
            yield engine
        finally:
            engine.close()
        return
    from .sandbox import Sandbox

    with Sandbox() as sb:
        env_poll = os.environ.get("TGCHECK_POLL_MIN")
        settings = Settings.from_env(
            api_key=sb.api_key, base_url=sb.url,
            poll_min=None if env_poll else 0.2, poll_max=None if env_poll else 2.0,
            **overrides,
        )
        click.echo(SIMULATED_BANNER, err=True)
        engine = Engine(settings)
        try:
            yield engine
        finally:
            engine.close()


def answers_csv(answers, column: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["input", "number", column, "status"])
    for a in answers:
        writer.writerow([a.input, a.number or "", a.value or "", a.status])
    return out.getvalue()


@cli.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write CSV here.")
@click.option("--region", help="Read national numbers as this country's (e.g. CH, TR).")
@click.option("--task-type", default="tg", show_default=True, help="What to check.")
@click.option("--sandbox", is_flag=True, help="Use the built-in simulated server (no key).")
@click.option("--base-url", help="The API's base URL (default: TGCHECK_BASE_URL or ekycpro).")
@click.option("--retry-unknown", is_flag=True,
              help="Resubmit numbers a result file left out, even within 24 hours.")
@click.option("--resubmit", is_flag=True,
              help="Create again a task whose earlier create had an unknown outcome.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@handle_errors
def check(input_path, output, region, task_type, sandbox, base_url, retry_unknown, resubmit,
          quiet):
    """Check the numbers in INPUT (one per line; - for stdin).

    Writes CSV (input,number,telegram,status) in input order, one row per line,
    to stdout or -o FILE. Exit codes: 0 done, 1 failed, 2 bad usage or input.

    \b
    Examples:
      tgcheck check examples/numbers.txt --sandbox
      tgcheck check numbers.txt --region CH -o answers.csv
    """
    lines = read_lines(input_path)
    ttype = plugins.get_task_type(task_type)
    with engine_for(sandbox, base_url) as engine, \
            ProgressDisplay(live=False if quiet else None) as display:
        answers = engine.check(
            lines, task_type=ttype.name, region=region, retry_unknown=retry_unknown,
            resubmit=resubmit, on_event=None if quiet else display,
        )
    text = answers_csv(answers, ttype.column)
    if output:
        try:
            write_atomically(Path(output), text)
        except OSError as e:
            raise TgcheckError(
                f"cannot write {output} ({e.strerror}); the answers are stored: run the same "
                "command again with another -o and nothing is paid again"
            ) from None
        counts = {s: sum(a.status == s for a in answers) for s in ("ok", "unknown", "invalid",
                                                                     "blank")}
        click.echo(f"tgcheck: wrote {len(answers)} rows to {output} "
                   f"({', '.join(f'{v} {k}' for k, v in counts.items())})", err=True)
    else:
        sys.stdout.write(text)


@cli.command("sandbox")
@click.option("--port", default=8765, show_default=True, help="Port on 127.0.0.1 (0: any).")
@click.option("--speed", default=200.0, show_default=True, help="Numbers processed per second.")
@click.option("--format", "result_format", type=click.Choice(["xlsx", "zip", "zip-xlsx"]),
              default="xlsx", show_default=True, help="Result file format.")
@click.option("--faults", default=0.0, show_default=True,
              help="Share of calls that fail (500, 429, drops, slow or broken replies).")
@handle_errors
def sandbox_command(port, speed, result_format, faults):
    """Run the simulated ekycpro server on 127.0.0.1 until Ctrl-C.

    \b
    Example:
      tgcheck sandbox --port 8765 &
      TGCHECK_BASE_URL=http://127.0.0.1:8765 TGCHECK_API_KEY=sandbox-demo-key \\
        tgcheck check examples/numbers.txt
    """
    import threading

    from .sandbox import Faults, Sandbox

    sb = Sandbox(port=port, speed=speed, result_format=result_format,
                 faults=Faults(rate=faults))
    click.echo(f"tgcheck sandbox (SIMULATED answers) listening on {sb.url}")
    click.echo(f"  export TGCHECK_BASE_URL={sb.url}")
    click.echo(f"  export TGCHECK_API_KEY={sb.api_key}   # the sandbox's demo key")
    sys.stdout.flush()
    with sb:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo(f"stopped; billed calls: {dict(sb.billed)}", err=True)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Also finished jobs.")
@handle_errors
def jobs(show_all):
    """List the journal: job, task id, state, counts, created, updated."""
    import datetime

    engine = Engine(Settings.from_env())
    states = None if show_all else ("new", "submitting", "open", "uncertain")
    rows = engine.store.jobs(states=states)
    click.echo("job\ttask_id\tstate\tstatus\tnumbers\tprocessed\tstatus_calls\tcreated\tupdated")
    for j in rows:
        ts = [datetime.datetime.fromtimestamp(t).isoformat(timespec="seconds")
              for t in (j.created_at, j.updated_at)]
        processed = "" if j.success is None else j.success + (j.failure or 0)
        click.echo(f"{j.id}\t{j.task_id or ''}\t{j.state}\t{j.status or ''}\t{j.count}\t"
                   f"{processed}\t{j.status_calls}\t{ts[0]}\t{ts[1]}")


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@handle_errors
def resume(quiet):
    """Finish the open jobs in the journal (e.g. after a crash or a timeout)."""
    engine = Engine(Settings.from_env())
    with ProgressDisplay(live=False if quiet else None) as display:
        done = engine.resume(on_event=None if quiet else display)
    click.echo(f"tgcheck: {done} open job(s) finished", err=True)


def _add_sql_command() -> None:
    # The SQL face is an optional extra: `tgcheck sql` exists when duckdb does.
    try:
        from tgcheck_duckdb.cli import sql_command
    except ImportError:
        return
    cli.add_command(sql_command, "sql")


_add_sql_command()


def main() -> None:
    cli(prog_name="tgcheck")


if __name__ == "__main__":
    main()
