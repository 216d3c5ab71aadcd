"""The `tgcheck` command. It parses, displays and writes; the engine does the work.

Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import gc
import importlib
import json
import math
import sys
import threading
import time

import click

from . import (
    command_errors,
    config_file,
    fields,
    formats,
    hints,
    plugins,
    progress_text,
    redact,
    regions,
    settings_registry,
    store_commands,
)
from .command_errors import Interrupted, handle_errors
from .doctor import doctor_command
from .engine import Engine, lost_message, sent_numbers
from .errors import InputError, TaskLost, TgcheckError, describe, exit_code
from .models import processed as processed_of
from .normalize import resolve_all
from .output_style import OutputStyle, style_for
from .polling import shows_progress
from .progress import JsonProgress, billed_calls, billed_here, make_display
from .provider import QUEUED, STATES
from .settings import Settings, shown_settings
from .simulated import simulated_settings
from .store import LIVE_STATES, MISSING
from .tables import (
    INPUT_FORMATS,
    answer_names,
    answer_rows,
    check_output,
    check_unchanged,
    open_input,
    output_format,
    row_regions,
    short,
    with_fields,
    write_table,
)

# Store-only commands open the sandbox's store (Settings.simulated, set by
# make_settings) without starting a server: a base URL is needed, never called.
SANDBOX_STORE_URL = "http://127.0.0.1"


# After Ctrl-C, past the HTTP timeout, for a created task's id to reach the journal.
CREATE_RECORD_MARGIN = 5.0


# Faces shipped with tgcheck that add commands through the same hook as any
# plugin (tgcheck_register_commands); each where its package can be imported.
FACE_PLUGINS = ("tgcheck_duckdb.commands",)


def plugin_manager():
    """The loaded plugin manager, with the faces' command plugins registered."""
    pm = plugins.load()
    for name in FACE_PLUGINS:
        if not pm.has_plugin(name):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            pm.register(module, name)
    return pm


class _Group(click.Group):
    """The built-in commands, then those that plugins add (`tgcheck sql` is the SQL
    face's). Plugins are asked only for a name that is not built in, or for the
    list (--help): `tgcheck check` imports no command plugin (DuckDB costs a fifth
    of a second), and a plugin cannot replace a built-in command."""

    _plugins_asked = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_asked:
            return
        self._plugins_asked = True
        built_in = dict(self.commands)
        try:
            plugin_manager().hook.tgcheck_register_commands(cli=self)
        except TgcheckError as e:  # a broken plugin: one line, like any error
            command_errors.fail(describe(e), exit_code(e))
        self.commands.update(built_in)

    def list_commands(self, ctx):
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tgcheck")
def cli():
    """Check in bulk which phone numbers have a Telegram account.

    \b
    Examples:
      tgcheck check examples/numbers.txt --sandbox   # try it, no key needed
      tgcheck config set-key                         # store your ekycpro key (hidden prompt)
      tgcheck check customers.xlsx -o answers.xlsx   # every column kept, answers appended
      tgcheck check numbers.csv --dry-run            # what it would send, no API call
      tgcheck jobs                                   # the journal of open jobs

    Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
    Full reference: docs/cli.md.
    """


# -- settings and engines -------------------------------------------------------
def make_settings(*, sandbox_store: bool = False, base_url: str | None = None,
                  key: bool = True, **overrides) -> Settings:
    """Settings from the environment; the key falls back to the config file.

    key=False is for commands that make no API call: the config file is not read
    then, so a key file it refuses (too open, broken) stops only the commands
    that need the key, not `tgcheck config` which says what is wrong with it.
    """
    if not key:
        overrides["api_key"] = None  # given, even as None: from_env skips the file
    if sandbox_store:
        overrides["simulated"] = True  # the sandbox's store, whatever the base URL
    return Settings.from_env(base_url=SANDBOX_STORE_URL if sandbox_store else base_url,
                             base_url_name="--base-url", **overrides)


@contextlib.contextmanager
def engine_for(sandbox: bool, base_url: str | None, *, serve: bool = True, quiet: bool = False,
               **overrides):
    """An Engine from the environment, or aimed at an embedded sandbox."""
    with contextlib.ExitStack() as stack:
        if sandbox and serve:
            say = None if quiet else lambda text: click.echo(text, err=True)
            settings = stack.enter_context(simulated_settings(say, **overrides))
        else:
            # Without serve (--dry-run) no call is made: no key, and for the
            # sandbox its store is enough, no server needed.
            settings = make_settings(sandbox_store=sandbox, base_url=base_url, key=serve,
                                     **overrides)
        engine = Engine(settings)
        stack.callback(engine.close)  # before the sandbox stops
        yield engine


def store_engine(sandbox: bool) -> Engine:
    """An Engine for journal and store commands: no API key needed, no call made."""
    return Engine(make_settings(sandbox_store=sandbox, key=False))


def _output_options(output_help: str | None = None):
    """-o/--output and -f/--format, as every command that writes a table has them."""

    if output_help is None:
        suffixes = ", ".join(f.suffixes[0] for f in formats.FORMATS.values())
        output_help = f"Write here ({suffixes}); default: CSV on stdout."

    def decorate(fn):
        fn = click.option("--raw-csv", is_flag=True,
                          help="CSV output: write cells as they are. Default: a text cell "
                               "Excel would run as a formula (=, +, -, @, tab, CR first; not "
                               "a number or phone number) gets a leading '.")(fn)
        fn = click.option("-f", "--format", "out_format", type=click.Choice(formats.names()),
                          help="Output format, whatever -o's extension.")(fn)
        return click.option("-o", "--output", type=click.Path(dir_okay=False),
                            help=output_help)(fn)

    return decorate


@contextlib.contextmanager
def _writing(output: str | None, then=lambda: ""):
    """An OSError while writing to -o FILE is one line naming it; then() says what
    now. On stdout it passes on: a reader that left (`| head`) is handle_errors' job."""
    try:
        yield
    except OSError as e:
        if output is None or output == "-":
            raise
        raise TgcheckError(f"cannot write {output} ({e.strerror or e}){then()}") from None


def _provider_option(fn):
    return click.option("--provider", metavar="NAME",
                        help="Who checks: ekycpro or an installed provider plugin "
                             "(default: TGCHECK_PROVIDER, else ekycpro).")(fn)


def _sandbox_store_option(fn):
    return click.option("--sandbox", is_flag=True,
                        help="Use the sandbox's store (simulated answers) instead.")(fn)


def _stamp(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def _note(message: str, progress: str, quiet: bool) -> None:
    if quiet:
        return
    if progress == "json":
        JsonProgress().write({"event": "note", "time": round(time.time(), 3),
                              "message": message})
    else:
        click.echo(f"tgcheck: {message}", err=True)


# -- check ----------------------------------------------------------------------
class _Recorder:
    """Passes events on to the display and remembers each job's last one, for the
    summary (billed calls) and for naming the job when the output cannot be written."""

    def __init__(self, display):
        self.display = display
        self.last: dict = {}

    def __call__(self, event) -> None:
        if event.job_key:  # not a note about no one task
            self.last[event.job_key] = event
        self.display(event)

    @property
    def billed(self) -> int:
        """Calls billed to this run: not those of a job another process drove."""
        return sum(billed_here(e) for e in self.last.values())

    def waited_notes(self) -> str:
        """'; waited for host-b's task; 0 calls here (6 billed to that run)' per job
        this run only waited for."""
        return "".join(f"; {progress_text.waited_note(e, billed_calls(e))}"
                       for e in self.last.values() if e.driven_by)


def _job_ids(engine: Engine, keys) -> list[int]:
    jobs = (engine.store.job_by_key(key) for key in keys)
    return [job.id for job in jobs if job is not None]


@cli.command()
@click.argument("input_path", metavar="INPUT")
@_output_options("Write here; the format follows the extension: "
                 + ", ".join(f.help for f in formats.FORMATS.values())
                 + ". Default: CSV on stdout.")
@click.option("--column", help="The column of numbers (name, any case, or 1-based number).")
@click.option("--sheet", help="The sheet of a spreadsheet (name, any case; default: the "
                               "first).")
@click.option("--input-format", type=click.Choice(INPUT_FORMATS),
              help="Read INPUT as this, whatever its extension (stdin: txt unless a spreadsheet).")
@click.option("--region", help="Read national numbers as this country's: a code (GB, GBR), an "
                                "English name or alias (UK) or a calling code (44). With "
                                "--region-column: for rows whose region cell is empty.")
@click.option("--region-column", metavar="COL",
              help="The column with each row's country (any form --region takes); a row "
                   "whose value names no country is invalid (reason unknown_region).")
@click.option("--task-type", default="tg", show_default=True, help="What to check.")
@click.option("--fields", "chosen_fields", metavar="NAMES",
              help="The task type's fields to write after its answer, comma-separated "
                   "(default: all it declares; none: only the answer). "
                   "docs/task-types.md lists them.")
@click.option("--max-age", type=click.FloatRange(min=0), metavar="DAYS",
              help="Answers older than this are checked again (default: TGCHECK_MAX_AGE_DAYS "
                   "or 30).")
@click.option("--retry-unknown", is_flag=True,
              help="Resubmit numbers a result file left out, even within "
                   "TGCHECK_UNKNOWN_RETRY_HOURS (default 24) hours.")
@click.option("--resubmit", is_flag=True,
              help="Create a new (paid) task for numbers whose earlier task has an unknown "
                   "outcome (uncertain), is stalled, or is gone at the provider (lost); "
                   "only a job of exactly these numbers is given up.")
@click.option("--top-up", is_flag=True, default=None,
              help="Below the task type's minimum task size, fill the task with the stalest "
                   "stored answers, checked again (default: TGCHECK_TOP_UP).")
@click.option("--timeout", type=click.FloatRange(min=1), metavar="SECONDS",
              help="The longest wait for one job; it stays open to `tgcheck resume` "
                   "(default: TGCHECK_TIMEOUT or 4 hours).")
@click.option("--dry-run", is_flag=True,
              help="Count valid, invalid, blank, duplicate and known numbers and what would "
                   "be sent; no API call.")
@click.option("--sandbox", is_flag=True, help="Use the built-in simulated server (no key).")
@_provider_option
@click.option("--base-url", help="The API's base URL (default: TGCHECK_BASE_URL or ekycpro).")
@click.option("--progress", type=click.Choice(["auto", "rich", "plain", "json", "none"]),
              default="auto", show_default=True,
              help="Progress on stderr: auto is a live bar on a terminal, plain lines "
                   "otherwise; json is one object a line.")
@click.option("--bom", is_flag=True,
              help="CSV output in UTF-8 with a byte-order mark (Excel then reads it as "
                   "UTF-8). Default: the input's encoding and delimiter.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress, no notes and no SIMULATED banner on stderr.")
@handle_errors
def check(input_path, output, out_format, column, sheet, input_format, region, region_column,
          task_type, chosen_fields, max_age, retry_unknown, resubmit, top_up, timeout, dry_run,
          sandbox, provider, base_url, progress, bom, quiet, raw_csv):
    """Check the numbers in INPUT: a .txt (one number a line), .csv, .xlsx, or - for stdin.

    A table keeps every column, in input order, with `number` (E.164), the task
    type's column (`telegram`), `status` and `reason` appended (renamed with a
    _tgcheck suffix if INPUT has such columns). A .txt gives
    input,number,telegram,status,reason.
    Without --column, the only column or the one named like phone, number,
    msisdn, mobile or tel is taken, and stderr says which.

    status is ok, invalid, blank (answered locally, never sent) or unknown (the
    result file left the number out). reason is "code: text" for every row not
    ok and for changed ones (extension_removed); docs/numbers.md lists the codes.
    Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.

    \b
    Examples:
      tgcheck check examples/numbers.txt --sandbox
      tgcheck check numbers.txt --region CH -o answers.csv
      tgcheck check crm.csv --column phone --region-column country -o answers.csv
      tgcheck check customers.xlsx --sheet Leads --column Mobile -o answers.xlsx
      tgcheck check export.csv --dry-run
      cat numbers.txt | tgcheck check - --progress json > answers.csv
    """
    fmt = output_format(output, out_format)
    ttype = plugins.get_task_type(task_type, provider)
    try:
        field_names = fields.choose(ttype.fields, chosen_fields)
    except ValueError as e:
        raise InputError(f"--fields: {e}") from None
    region = regions.fixed_region(region)  # a typo is exit 2, before anything is read
    table = open_input(input_path, column=column, sheet=sheet, input_format=input_format)
    try:
        for message in table.notes:
            _note(message, progress, quiet)
        if region_column is not None:
            region = row_regions(table, region_column, region)
        values = None
        if not dry_run:
            # The engine lists the values anyway; listed here, their count lets an
            # output that cannot be written fail before a task is paid for.
            values = list(table.numbers())
            check_output(output, fmt, rows=len(values), folder=True)
        overrides = {"max_age_days": max_age, "timeout": timeout, "provider": provider}
        with engine_for(sandbox, base_url, serve=not dry_run, quiet=quiet,
                        **overrides) as engine:
            if dry_run:
                _dry_run(engine, table, ttype, region, retry_unknown, out_format, top_up)
                return
            tally = collections.Counter()  # rows per status, counted as they are written
            recorder = _Recorder(make_display(progress, quiet,
                                              engine.settings.progress_every))
            with recorder.display:
                try:
                    answers = engine.check_column(
                        values, task_type=ttype.name, region=region,
                        retry_unknown=retry_unknown, resubmit=resubmit, on_event=recorder,
                        top_up=top_up,
                    )
                except KeyboardInterrupt:
                    cut_off = _let_creates_land(engine)
                    raise _interrupted(recorder, engine.creates.recorded, cut_off) from None
            # A .txt table's one column is "input".
            header = [*table.columns, *answer_names(table.columns, [
                "number", ttype.column, *field_names, "status", "reason"])]
            if output is None or output == "-":
                check_unchanged(table, values)

            def then() -> str:
                ids = _job_ids(engine, recorder.last)
                how = (f"`tgcheck export {ids[0]} -o FILE` writes them, or run "
                       if len(ids) == 1 else "run ")
                return (f"; the answers are stored: {how}the same command again with "
                        "another -o, and nothing is paid again")

            with _writing(output, then):
                rows = answer_rows(table, values, answers, tally)
                if field_names:  # one column per field after the answer (issue 24)
                    rows = with_fields(rows, len(table.columns), answers.fields, field_names,
                                       cells=fmt not in ("csv", "json"))
                write_table(output, fmt, header, rows,
                            style_for(table, bom=bom, csv_safe=not raw_csv))
        summary = ", ".join(f"{tally[k]} {k}" for k in ("ok", "unknown", "invalid", "blank"))
        where = f"to {output}" if output else "to stdout"
        # The cost of tasks this run paid for (not of those it only waited for).
        cost = _cost_note(engine.store.job_by_key(k) for k, e in recorder.last.items()
                          if not e.driven_by)
        _note(f"wrote {len(values)} rows {where} ({summary}; {recorder.billed} billed "
              f"calls{cost}{recorder.waited_notes()})", progress,
              quiet or (not output and progress != "json"))
    finally:
        table.close()


def _cost_note(jobs) -> str:
    """'; cost 0.0200 USD' summed over the jobs whose provider reported an amount
    (the actual one, else the estimate), per currency; '' when none did."""
    from decimal import Decimal

    sums: dict[str, Decimal] = {}
    estimated = False
    for job in jobs:
        if job is None:
            continue
        amount = job.actual_amount or job.estimated_amount
        if amount is None:
            continue
        estimated |= job.actual_amount is None
        currency = job.currency or ""
        sums[currency] = sums.get(currency, Decimal(0)) + Decimal(amount)
    if not sums:
        return ""
    what = "estimated cost" if estimated else "cost"
    return f"; {what} " + ", ".join(f"{v} {c}".strip() for c, v in sorted(sums.items()))


def _let_creates_land(engine) -> int:
    """After Ctrl-C: a create whose request may have left is a task that may be
    paid for. Its worker finishes that one call (bounded by the HTTP timeout) and
    journals the task id before the process exits; a second Ctrl-C leaves at once,
    the jobs of creates still on their way then marked uncertain. Returns how many
    were left so."""
    pending = engine.creates.in_flight()
    if not pending:
        return 0
    # One HTTP call (its connect and its reply may each take an http_timeout),
    # then the journal's few retries of its write.
    limit = 2 * engine.settings.http_timeout + CREATE_RECORD_MARGIN
    try:
        creates = "1 task create" if len(pending) == 1 else f"{len(pending)} task creates"
        click.echo(f"tgcheck: waiting up to {limit:.0f}s for {creates} to be recorded; "
                   "Ctrl-C again to leave now (they will be uncertain)", err=True)
        if engine.creates.wait(limit):
            return 0
    except KeyboardInterrupt:
        pass
    left = engine.creates.in_flight()
    for job_id in left:
        # A worker that lands its create now still records it (its write expects
        # submitting or uncertain); one cut off by the exit leaves this behind.
        with contextlib.suppress(TgcheckError, KeyboardInterrupt):
            engine.store.update_job(job_id, expect_state="submitting", state="uncertain",
                                    owner=None,
                                    error="left by Ctrl-C while its create was on its way")
    return len(left)


def _uncertain_note(cut_off: int) -> str:
    return (f"; {cut_off} create(s) were left on their way: their jobs are uncertain "
            "(`tgcheck jobs`), look at the provider's dashboard before any --resubmit"
            if cut_off else "")


def _interrupted(recorder: _Recorder, created: int = 0, cut_off: int = 0) -> Interrupted:
    """What Ctrl-C leaves: the answers of finished tasks are stored, the others
    run on at the provider and their jobs stay open for the next run."""
    events = list(recorder.last.values())
    done = [e for e in events if e.kind == "done"]
    stored = sum(e.numbers for e in done)
    uncertain = _uncertain_note(cut_off)
    if not events and not created:
        return Interrupted("interrupted before any task was created; run the same command "
                           "again to check" + uncertain)
    return Interrupted(
        f"interrupted: {created} task(s) created by this run, {stored:,} answers are stored "
        f"({len(done)} of {len(events)} task(s) finished); tasks still running go on at the "
        "provider and their jobs stay open: run the same command again and it attaches to "
        "them (no --resubmit needed; nothing is paid twice)" + uncertain)


def _dry_run(engine, table, ttype, region, retry_unknown, out_format, top_up=None) -> None:
    counts = engine.plan(table.numbers(), task_type=ttype.name, region=region,
                         retry_unknown=retry_unknown, top_up=top_up)
    reasons = counts.pop("reasons", {})
    # A top-up's fillers are checked again, billed like the new numbers.
    billed = counts["to_send"] + counts.get("topped_up", 0)
    counts["tasks"] = math.ceil(billed / engine.settings.max_task_size)
    if out_format == "json":
        click.echo(json.dumps({**counts, "reasons": reasons}, default=str))
    else:
        width = max(len(k) for k in counts)
        for key, value in counts.items():
            click.echo(f"{key.replace('_', ' '):<{width}}  {value:>10,}")
        if reasons:
            click.echo("\nby reason (rows not sent, and rows changed on the way):")
            code_width = max(len(code) for code in reasons)
            for code, entry in reasons.items():
                examples = ", ".join(short(x) for x in entry["examples"])
                click.echo(f"  {code:<{code_width}}  {entry['count']:>10,}  e.g. {examples}")
    tasks = counts["tasks"]
    least = engine.minimum(ttype)
    below = (f"; below the minimum of {least} for {ttype.name} tasks: a check needs "
             "--top-up (with enough stored answers) or more numbers"
             if least and 0 < billed < least else "")
    filled = (f" ({counts['topped_up']:,} of them stored answers checked again to reach "
              f"the minimum of {least}: --top-up)" if counts.get("topped_up") else "")
    fast = (f"; all {counts['fast_path']:,} asked one by one first (the fast path, "
            "TGCHECK_SYNC_MAX): those answered are billed one call each, the rest go to "
            "that task" if counts.get("fast_path") else "")
    click.echo(f"tgcheck: dry run: no API call made; a check would bill {billed:,} "
               f"numbers in {tasks} task{'s' if tasks != 1 else ''}{filled}{below}{fast}",
               err=True)


# -- sandbox --------------------------------------------------------------------
@cli.command("sandbox")
@click.option("--port", default=8765, show_default=True, help="Port on 127.0.0.1 (0: any).")
@click.option("--speed", default=200.0, show_default=True, help="Numbers processed per second.")
@click.option("--format", "result_format", type=click.Choice(["xlsx", "zip", "zip-xlsx"]),
              default="xlsx", show_default=True, help="Result file format.")
@click.option("--faults", default=0.0, show_default=True,
              help="Share of calls that fail (500, 429, drops, slow or broken replies).")
@click.option("--create-code", type=click.Choice(["200", "202"]), default="200",
              show_default=True, help="HTTP status of a create (current deployments: 202).")
@click.option("--price", metavar="USD", help="Charge per number: tasks report "
              "estimated_amount and actual_amount.")
@click.option("--balance", metavar="USD", help="The account's balance (/v1/balance); a "
              "create costing more is refused with 402. Needs --price.")
@click.option("--min-rows", metavar="TYPE=N", multiple=True,
              help="Fewest numbers a task of TYPE takes (a 400 below it), e.g. tg=50.")
@click.option("--max-rows", type=click.IntRange(min=1),
              help="Most numbers in one file (a 413 above it).")
@click.option("--stuck", metavar="WORD", help="Every task shows this status for ever "
              "(pending, an unknown word, or cancelled).")
@click.option("--provider", metavar="NAME", help="Another provider's own sandbox (a plugin's, "
              "e.g. wscheck); the options above are ekycpro's, --port excepted.")
@handle_errors
def sandbox_command(port, speed, result_format, faults, create_code, price, balance, min_rows,
                    max_rows, stuck, provider):
    """Run a provider's simulated server on 127.0.0.1 until Ctrl-C (ekycpro's by
    default; --provider for a plugin's).

    \b
    Examples:
      tgcheck sandbox --port 8765 &
      TGCHECK_BASE_URL=http://127.0.0.1:8765 TGCHECK_API_KEY=sandbox-demo-key \\
        TGCHECK_SANDBOX=1 tgcheck check examples/numbers.txt
      tgcheck sandbox --speed 20 --format zip --faults 0.3
      tgcheck sandbox --create-code 202 --price 0.002 --balance 5 --min-rows tg=50
      tgcheck sandbox --stuck pending
      tgcheck sandbox --provider wscheck   # a provider plugin's own sandbox
    """
    import decimal

    from .sandbox import Faults, Sandbox

    if provider not in (None, "ekycpro"):
        from .sandbox.embedded import sandbox_factory

        _serve(sandbox_factory(provider)(port=port), provider)
        return
    minimum = {}
    for item in min_rows:
        name, _, count = item.partition("=")
        if not name or not count.isdigit():
            raise InputError(f"--min-rows takes TYPE=N, e.g. tg=50, not {item!r}")
        minimum[name.strip()] = int(count)
    try:
        sb = Sandbox(port=port, speed=speed, result_format=result_format,
                     faults=Faults(rate=faults), create_code=int(create_code), price=price,
                     balance=balance, min_rows=minimum, max_rows=max_rows, stuck=stuck)
    except decimal.InvalidOperation:
        raise InputError("--price and --balance take decimal numbers, e.g. 0.002") from None
    _serve(sb)


def _serve(sb, provider: str | None = None) -> None:
    """Say how to use the sandbox, then serve until Ctrl-C."""
    click.echo(f"tgcheck sandbox (SIMULATED answers) listening on {sb.url}")
    if provider is not None:
        click.echo(f"  export TGCHECK_PROVIDER={provider}")
    click.echo(f"  export TGCHECK_BASE_URL={sb.url}")
    click.echo(f"  export TGCHECK_API_KEY={sb.api_key}   # the sandbox's demo key")
    # A loopback URL alone is taken for a real vendor (a relay, a tunnel): this says
    # the answers are simulated, kept apart in the sandbox's store.
    click.echo("  export TGCHECK_SANDBOX=1")
    if provider is None:  # ekycpro's sandbox answers /v1/check too: the fast path
        click.echo(f"  export TGCHECK_SYNC_URL={sb.url}   # a few numbers answered at once")
    sys.stdout.flush()
    with sb:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo(f"stopped; billed calls: {dict(sb.billed)}", err=True)


# -- the journal ------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True,
              help="Also finished, failed, lost and abandoned jobs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@_sandbox_store_option
@click.pass_context
@handle_errors
def jobs(ctx, show_all, as_json, sandbox):
    """List the journal: job, task id, state, counts, cost, created, updated.

    Live jobs by default (new, submitting, open, stalled, uncertain: they hold
    their numbers). Tab-separated, with a header line. estimated and actual are
    the provider's amounts for the task, where it reports them.

    \b
    Examples:
      tgcheck jobs
      tgcheck jobs --all --json
      tgcheck jobs abandon 3
      tgcheck jobs attach 3 cs9viu7i61pkfs4oavvg
    """
    if ctx.invoked_subcommand is not None:
        return
    engine = store_engine(sandbox)
    try:
        rows = engine.store.jobs(states=None if show_all else LIVE_STATES)
    finally:
        engine.close()
    if not as_json:
        click.echo("job\ttask_id\tstate\tstatus\tnumbers\tprocessed\tstatus_calls\t"
                   "created\tupdated\testimated\tactual")
    for j in rows:
        processed = processed_of(j.success, j.failure)
        # A journal written by an older tgcheck may hold raw provider text: every
        # field passes the redaction point (no tab, line break or escape in a cell).
        task_id, status_word = redact.clean(j.task_id or "", 200), redact.clean(j.status or "", 40)
        if as_json:
            click.echo(json.dumps({
                "job": j.id, "task_id": task_id or None, "state": j.state,
                "status": status_word or None, "task_type": j.task_type, "numbers": j.count,
                "processed": processed, "status_calls": j.status_calls,
                "error": redact.clean_optional(j.error, None),
                "created": _stamp(j.created_at), "updated": _stamp(j.updated_at),
                "estimated_amount": j.estimated_amount, "actual_amount": j.actual_amount,
                "currency": j.currency}))
            continue
        click.echo(f"{j.id}\t{task_id}\t{j.state}\t{status_word}\t{j.count}\t"
                   f"{'' if processed is None else processed}\t{j.status_calls}\t"
                   f"{_stamp(j.created_at)}\t{_stamp(j.updated_at)}\t"
                   f"{_money(j.estimated_amount, j.currency)}\t"
                   f"{_money(j.actual_amount, j.currency)}")


def _money(amount: str | None, currency: str | None) -> str:
    # The provider's words: through the redaction point, like every TSV cell.
    return "" if amount is None else redact.clean(f"{amount} {currency or ''}".strip(), 60)


ABANDON_MEANS = {
    "new": "its create was never sent: nothing was paid",
    "submitting": "its create may be on its way: a task may exist and be paid",
    "open": "its task was created and paid and may still finish at the provider; its "
            "answers will not be collected",
    "stalled": "its task was created and paid and may still finish at the provider; its "
               "answers will not be collected",
    "uncertain": "a task may exist at the provider and be paid; tgcheck will not look for it",
    "lost": "its task is gone at the provider",
}


@jobs.command("abandon")
@click.argument("job_ref", metavar="JOB")
@_sandbox_store_option
@handle_errors
def jobs_abandon(job_ref, sandbox):
    """End a live (new, open, stalled or uncertain) or lost job on purpose.

    tgcheck stops polling it and its numbers are free again: the next check of
    them creates a new task, paid again. A task already created at the provider
    may still run, and be paid for, there (orphaned). No API call is made. JOB is
    the number from `tgcheck jobs` or the provider's task id.

    \b
    Examples:
      tgcheck jobs abandon 3
      tgcheck jobs abandon cs9viu7i61pkfs4oavvg
    """
    engine = store_engine(sandbox)
    try:
        job = _find_job(engine, job_ref)
        was = engine.store.abandon_job(job.id, "abandoned by the user (tgcheck jobs abandon)")
    finally:
        engine.close()
    if was is None:
        raise InputError(f"job {job.id} is {job.state}: only new, open, stalled, uncertain "
                         "or lost jobs can be abandoned")
    task = f" (task {was.task_id})" if was.task_id else ""
    click.echo(f"tgcheck: job {was.id}{task} abandoned; it was {was.state}: "
               f"{ABANDON_MEANS.get(was.state, '')}. Its {was.count} numbers are free: the "
               "next check of them creates a new task, paid again.", err=True)


@jobs.command("attach")
@click.argument("job_ref", metavar="JOB")
@click.argument("task_id")
@_sandbox_store_option
@handle_errors
def jobs_attach(job_ref, task_id, sandbox):
    """Attach a task the provider created to JOB, when the journal lost its id.

    For a job whose create was cut off (uncertain) or whose task id could not be
    written (a full disk): the id from the error message or the provider's
    dashboard makes the job open again, and `tgcheck resume` or the same check
    collects its answers without paying for a new task. No API call is made.

    \b
    Examples:
      tgcheck jobs attach 3 cs9viu7i61pkfs4oavvg && tgcheck resume
    """
    clean_id = redact.clean(task_id, None)
    if clean_id != task_id or not task_id or " " in task_id or not task_id.isascii():
        raise InputError(f"{clean_id!r} is not a task id (printable ASCII, no spaces)")
    engine = store_engine(sandbox)
    try:
        job = _find_job(engine, job_ref)
        recovery = engine.recovery
        # A process that wrote this id down gave the job up, though it may live on.
        was = engine.store.attach_task(job.id, task_id, given_up_by=recovery and
                                       recovery.given_up_by(task_id))
        if recovery is not None:  # settled there too: no run attaches it again
            recovery.attached(task_id)
    finally:
        engine.close()
    click.echo(hints.for_store(f"tgcheck: task {task_id} attached to job {was.id} (it was "
                               f"{was.state}); `tgcheck resume` or the same check collects "
                               "its answers", sandbox), err=True)


@cli.command()
@click.option("--progress", type=click.Choice(["auto", "rich", "plain", "json", "none"]),
              default="auto", show_default=True, help="Progress on stderr (as for check).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.option("--sandbox", is_flag=True,
              help="Finish the open jobs of `check --sandbox` runs (simulated, no key).")
@_provider_option
@handle_errors
def resume(progress, quiet, sandbox, provider):
    """Finish the open jobs in the journal (e.g. after a crash or a timeout).

    No task is created twice: a job whose create was never sent (state new) is
    created now; an open one is polled and its answers stored; a stalled one (it
    used its TGCHECK_MAX_STATUS_CALLS budget) is polled again with a new budget.
    Uncertain jobs (a create with an unknown outcome) are left alone: they need
    `check --resubmit`.

    \b
    Examples:
      tgcheck resume
      tgcheck resume --sandbox
      tgcheck resume && tgcheck export 3 -o answers.csv
    """
    skipped: list = []
    with engine_for(sandbox, None, quiet=quiet, provider=provider) as engine, \
            make_display(progress, quiet, engine.settings.progress_every) as display:
        try:
            done = engine.resume(on_event=display, skipped=skipped)
        except KeyboardInterrupt:
            cut_off = _let_creates_land(engine)
            raise Interrupted(
                f"interrupted: {engine.creates.recorded} task(s) created by this run; open "
                "jobs stay in the journal and the next run attaches to them"
                + _uncertain_note(cut_off)) from None
        finally:
            for job, why in skipped:
                _note(hints.for_store(f"skipped job {job.id} ({job.state}, {job.count} "
                                      f"numbers): {why}", sandbox), progress, False)
    click.echo(f"tgcheck: {done} open job(s) finished"
               + (f", {len(skipped)} skipped (see above)" if skipped else ""), err=True)


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
@click.option("--base-url", help="The API's base URL (default: TGCHECK_BASE_URL or ekycpro).")
@click.option("--sandbox", is_flag=True, help="Ask the built-in sandbox (a `check --sandbox` "
                                               "task; simulated, no key).")
@_provider_option
@handle_errors
def status(task_id, as_json, base_url, sandbox, provider):
    """Ask the provider once for TASK_ID's record and show it (one billed call).

    The answer goes into the journal. A stalled job (it used its
    TGCHECK_MAX_STATUS_CALLS budget) is opened again with a new budget, so the
    same check or `tgcheck resume` polls it again; a task the provider no longer
    knows makes its job lost. Only a job made against this server is touched.

    \b
    Examples:
      tgcheck status 6f1c2a9e
      tgcheck status 6f1c2a9e --json
      tgcheck status cs1234abcd --sandbox
    """
    reopened = False
    with engine_for(sandbox, base_url, quiet=True, provider=provider) as engine:
        job = engine.store.job_by_task_id(task_id)
        if job is not None and job.provider != engine.provider.identity:
            # Another server's task id: what this server says (a 404) is not
            # about that job, which is left as it is.
            server = job.provider.partition(":")[2] or job.provider
            click.echo(f"tgcheck: job {job.id} with task {task_id} was made for another "
                       f"server ({redact.clean(server, None)}); asking this one leaves "
                       "that job as it is", err=True)
            job = None
        try:
            record = engine.provider.get_status(task_id)
        except TaskLost:
            if job is not None and job.state in LIVE_STATES:
                engine.store.update_job(job.id, state="lost", owner=None,
                                        error="the provider does not know the task (status)")
                raise TaskLost(lost_message(engine.store.job(job.id))) from None
            raise
        if job is not None:
            _record_status(engine, job, record)
            # The user asked: a stalled job gets a new budget; the next check or
            # `tgcheck resume` polls it again.
            reopened = job.state == "stalled" and engine.store.reopen(job.id)
            job = engine.store.job(job.id)
    fields = {"task_id": record.task_id, "status": record.status, "total": record.total,
              "success": record.success, "failure": record.failure,
              "processed": record.processed, "created_at": record.created_at,
              "result_url": record.result_url, "message": record.message,
              "estimated_amount": _money(record.estimated_amount, record.currency) or None,
              "actual_amount": _money(record.actual_amount, record.currency) or None,
              "job": job.id if job else None, "job_state": job.state if job else None}
    # The provider's words, shown: through the redaction point (the URL too: a
    # server may put the key in it).
    fields = {k: redact.clean(v, None) if isinstance(v, str) else v for k, v in fields.items()}
    if as_json:
        click.echo(json.dumps(fields))
    else:
        for key, value in fields.items():
            if value is not None:
                click.echo(f"{key + ':':<12} {value}")
    click.echo(_status_call_note(engine.settings.simulated,
                                 engine.provider.billed_calls(1, False)), err=True)
    if reopened:
        click.echo(hints.for_store(f"tgcheck: job {job.id} was stalled; it is open again "
                                   "with a new budget of status calls: the same check, or "
                                   "`tgcheck resume`, collects it", sandbox), err=True)


def _status_call_note(simulated: bool, billed: int) -> str:
    """What the one status call cost: nothing at a sandbox, else the provider's rule."""
    if simulated:
        return "tgcheck: that was one status call to the sandbox (simulated: nothing is billed)"
    return ("tgcheck: that was one billed status call" if billed
            else "tgcheck: that was one status call (not billed by this provider)")


def _record_status(engine: Engine, job, record) -> None:
    """A status the user asked for, in the journal like the engine's own polls."""
    fields = {"status": record.status, "total": record.total, "success": record.success,
              "failure": record.failure, "estimated_amount": record.estimated_amount,
              "actual_amount": record.actual_amount, "currency": record.currency}
    # Kept like a poll's: a later run's first wait counts from this call, and
    # progress seen here (the task moved, or is exported) ends the backoff.
    now = time.time()
    provider = engine.provider
    if record.state not in STATES:
        record = dataclasses.replace(record, state=provider.state_of(record.status))
    # What was seen, as the engine's schedule restores it (a word without a state
    # counts as queued): only a live state or count beyond it is progress.
    seen = (provider.state_of(job.status) or QUEUED, processed_of(job.success, job.failure) or 0)
    if shows_progress(seen, record):
        fields["moved_at"] = now
    engine.store.update_job(job.id, status_call=True, polled_at=now,
                            **{k: v for k, v in fields.items() if v is not None})


@cli.command()
@click.option("--base-url", help="The API's base URL (default: TGCHECK_BASE_URL or ekycpro).")
@click.option("--json", "as_json", is_flag=True, help='As {"balance": ..., "currency": ...}.')
@_provider_option
@handle_errors
def balance(base_url, as_json, provider):
    """Show the account's balance at the provider (one API call).

    A provider may bill this call like any other, so count it as possibly
    billed: one call per run. Needs the API key.

    \b
    Examples:
      tgcheck balance
      tgcheck balance --json
    """
    engine = Engine(make_settings(base_url=base_url, provider=provider))
    name = engine.provider.name
    try:
        ask = getattr(engine.provider, "balance", None)
        if ask is None:
            raise TgcheckError(f"the provider {engine.provider.name!r} cannot tell a balance")
        amount, currency = ask()
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps({"balance": amount, "currency": currency}))
    else:
        click.echo(f"{amount} {currency or ''}".strip())
    billed = {True: "billed", False: "free"}.get(getattr(engine.provider, "balance_is_billed",
                                                         None), "possibly billed")
    click.echo(f"tgcheck: that was one call to {name} for the balance ({billed})", err=True)


def _find_job(engine: Engine, ref: str):
    """A job by its number, or by the provider's task id."""
    job = engine.store.job(int(ref)) if ref.isdigit() else None
    if job is None:
        job = engine.store.job_by_task_id(ref)
    if job is None:
        raise InputError(f"no job {ref!r} in the journal; `tgcheck jobs --all` lists them")
    return job


@cli.command()
@click.argument("job_ref", metavar="JOB")
@_output_options()
@_sandbox_store_option
@handle_errors
def export(job_ref, output, out_format, raw_csv, sandbox):
    """Write a finished job's answers (number, answer, status), from the store.

    JOB is the job number from `tgcheck jobs` or the provider's task id. No API
    call is made.

    \b
    Examples:
      tgcheck export 3 -o answers.csv
      tgcheck export 6f1c2a9e -o answers.xlsx
    """
    fmt = output_format(output, out_format)
    engine = store_engine(sandbox)
    try:
        job = _find_job(engine, job_ref)
        if job.state != "done":
            hint = ("`tgcheck resume` collects it" if job.state in ("new", "open", "stalled")
                    else "it has no answers")
            raise TgcheckError(f"job {job.id} is {job.state}, not done: {hint}")
        ttype = plugins.get_task_type(job.task_type)
        answers = engine.store.job_answers(job.id)
    finally:
        engine.close()
    missing = sum(status == MISSING for _, _, status in answers)
    with _writing(output):
        count = write_table(output, fmt, ["number", ttype.column, "status"], answers,
                            OutputStyle(csv_safe=not raw_csv))
    note = f"; {missing} no longer in the store (cache cleared)" if missing else ""
    click.echo(f"tgcheck: job {job.id}: {count} answers{note}", err=True)


# -- the store ----------------------------------------------------------------------
@cli.group()
def cache():
    """The local store of answers: stats, show, export, clear.

    \b
    Examples:
      tgcheck cache stats
      tgcheck cache show +41798284651
      tgcheck cache export -o all-answers.csv
      tgcheck cache clear --older-than 90 --yes
    """


@cache.command("stats")
@_sandbox_store_option
@handle_errors
def cache_stats(sandbox):
    """Answers per task type and status, how many are fresh, the journal's states.

    \b
    Examples:
      tgcheck cache stats
      tgcheck cache stats --sandbox
    """
    engine = store_engine(sandbox)
    try:
        settings = engine.settings
        answers = engine.store.answer_stats(max_age_days=settings.max_age_days)
        states = engine.store.job_state_counts()
        path, size = engine.store.path, engine.store.size_bytes()
    finally:
        engine.close()
    click.echo(f"store:   {path} ({size / 1e6:.1f} MB)")
    click.echo(f"fresh:   answers younger than {settings.max_age_days:g} days are reused")
    click.echo("task_type\tstatus\tanswers\tfresh\toldest\tnewest")
    for task_type, status_word, count, fresh, oldest, newest in answers:
        click.echo(f"{task_type}\t{status_word}\t{count}\t{fresh or 0}\t{_stamp(oldest)}\t"
                   f"{_stamp(newest)}")
    click.echo("jobs:    " + (", ".join(f"{n} {s}" for s, n in states.items()) or "none"))


@cache.command("show")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--task-type", default="tg", show_default=True, help="Which answers.")
@click.option("--region", help="Region for national numbers (CH, Switzerland, 41).")
@_sandbox_store_option
@handle_errors
def cache_show(numbers, task_type, region, sandbox):
    """Show NUMBERS' stored answers and where each came from: the provider, its
    task id and when it was checked. No API call.

    \b
    Examples:
      tgcheck cache show +41798284651
      tgcheck cache show "079 828 46 51" --region CH
    """
    engine = store_engine(sandbox)
    try:
        found = resolve_all(numbers, region)
        stored = engine.store.origins(task_type, sent_numbers(found))
    finally:
        engine.close()
    click.echo("input\tnumber\tvalue\tstatus\tchecked_at\ttask_id\tprovider")
    for given, resolved in zip(numbers, found, strict=True):
        number = sent_numbers([resolved])
        if not number:  # invalid or blank: answered locally, never sent, never stored
            click.echo(f"{given}\t\t\t{resolved.status}\t\t\t")
            continue
        number = number[0]
        answer = stored.get(number)
        if answer is None:
            click.echo(f"{given}\t{number}\t\tnot stored\t\t\t")
            continue
        click.echo(f"{given}\t{number}\t{answer.value or ''}\t{answer.status}\t"
                   f"{_stamp(answer.checked_at)}\t{answer.task_id or ''}\t"
                   f"{answer.provider or ''}")


@cache.command("export")
@_output_options()
@click.option("--task-type", help="Only this task type's answers.")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Only answers checked more than DAYS ago.")
@_sandbox_store_option
@handle_errors
def cache_export(output, out_format, raw_csv, task_type, older_than, sandbox):
    """Write every stored answer with where it came from: task_type, number,
    value, status, checked_at, task_id, provider (empty: stored before tgcheck
    recorded it).

    \b
    Examples:
      tgcheck cache export -o answers.parquet
      tgcheck cache export --task-type tg > answers.csv
    """
    fmt = output_format(output, out_format)
    engine = store_engine(sandbox)
    try:
        stored = engine.store.iter_answers(task_type=task_type, older_than_days=older_than)
        # Closed here, on any error too: its cursor must close before the store does.
        with contextlib.closing(stored), _writing(output):
            rows = ((t, n, v, s, _stamp(c), task, provider)
                    for t, n, v, s, c, task, provider, *_ in stored)
            count = write_table(output, fmt, ["task_type", "number", "value", "status",
                                              "checked_at", "task_id", "provider"], rows,
                                OutputStyle(csv_safe=not raw_csv))
    finally:
        engine.close()
    click.echo(f"tgcheck: {count} answers exported", err=True)


@cache.command("clear")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Only answers checked more than DAYS ago (default: all).")
@click.option("--task-type", help="Only this task type's answers.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@_sandbox_store_option
@handle_errors
def cache_clear(older_than, task_type, yes, sandbox):
    """Delete stored answers; checking those numbers again is paid again.

    The journal is kept (`tgcheck jobs`); open jobs are not touched.

    \b
    Examples:
      tgcheck cache clear --older-than 90
      tgcheck cache clear --yes
    """
    engine = store_engine(sandbox)
    # One cutoff for the count shown and the delete, however long the prompt waits.
    which = {"task_type": task_type, "older_than_days": older_than, "now": time.time()}
    try:
        count = engine.store.count_answers(**which)
        if count and not yes:
            if not sys.stdin.isatty():
                raise InputError(f"would delete {count} answers; add --yes to confirm")
            click.confirm(f"Delete {count} stored answers? Checking them again is paid",
                          abort=True, err=True)
        deleted = engine.store.delete_answers(**which)
    finally:
        engine.close()
    click.echo(f"tgcheck: deleted {deleted} answers from {engine.store.path}", err=True)


cli.add_command(doctor_command, "doctor")
cli.add_command(store_commands.store_group, "store")


# -- plugins and config ------------------------------------------------------------
@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="As a JSON list.")
@handle_errors
def plugins_command(as_json):
    """List the installed plugins, their versions and the hooks each implements.

    \b
    Examples:
      tgcheck plugins
      tgcheck plugins --json
    """
    import importlib.metadata

    pm = plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    found = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: str(p[0])):
        dist = dists.get(id(plugin))
        if dist is not None:
            package, version = dist.project_name, dist.version
        else:  # built in: registered like a third-party plugin, shipped with tgcheck
            package, version = "tgcheck", importlib.metadata.version("tgcheck")
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        found.append({"name": str(name), "package": package, "version": version,
                      "hooks": hooks})
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for p in found:
        click.echo(f"{p['name']}  ({p['package']} {p['version']})")
        for hook in p["hooks"]:
            click.echo(f"    {hook}")


@cli.group(invoke_without_command=True)
@click.pass_context
def config(ctx):
    """Show where the store is, which key source is used (never the key), the base URL.

    \b
    Examples:
      tgcheck config
      tgcheck config set-key              # prompts, hidden
      pass show ekycpro | tgcheck config set-key
      tgcheck config remove-key
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_show)


@config.command("show")
@handle_errors
def config_show():
    """Show the settings in use (the default of `tgcheck config`).

    \b
    Example:
      tgcheck config show
    """
    # Without the key: the "API key" line reports a key file it cannot use.
    settings = make_settings(key=False)
    sandbox_settings = make_settings(sandbox_store=True, key=False)
    path = config_file.config_path()
    lines = {
        "base URL": redact.url_without_userinfo(settings.base_url)
        + (" (simulated: a sandbox)" if settings.simulated else ""),
        "API key": config_file.key_source(),
        "config file": f"{path}" + ("" if path.exists() else " (not written)"),
        **store_commands.store_lines(settings, sandbox_settings),
        "provider": settings.provider,
        "max age": f"{settings.max_age_days:g} days",
        "timeout": f"{settings.timeout:g} s",
        "poll": f"{settings.poll_min:g}..{settings.poll_max:g} s",
    }
    width = max(map(len, lines))
    for key, value in lines.items():
        click.echo(f"{key + ':':<{width + 1}} {value}")
    # Every setting of the one table (tgcheck.settings_registry), with its source.
    rows = shown_settings(settings)
    width = max(len(variable) for variable, _, _ in rows)
    click.echo("settings:")
    for variable, value, source in rows:
        click.echo(f"  {variable:<{width}} {value}  ({source})")


@config.command("set-key")
@handle_errors
def config_set_key():
    """Store the API key in the config file (mode 0600), from a hidden prompt or stdin.

    The key is never taken from the command line (shell history, ps).
    TGCHECK_API_KEY, when set, still wins over the file.

    \b
    Examples:
      tgcheck config set-key
      printf '%s' "$KEY" | tgcheck config set-key
    """
    if sys.stdin.isatty():
        name = make_settings(key=False).provider
        key = click.prompt(f"{name} API key", hide_input=True, err=True)
    else:
        key = sys.stdin.readline()
    path = config_file.set_key(key)
    click.echo(f"tgcheck: key saved to {path} (readable by you only)", err=True)
    if settings_registry.is_set("api_key"):
        click.echo("tgcheck: note: TGCHECK_API_KEY is set and wins over the file", err=True)


@config.command("remove-key")
@handle_errors
def config_remove_key():
    """Remove the API key from the config file.

    \b
    Example:
      tgcheck config remove-key
    """
    if config_file.remove_key():
        click.echo(f"tgcheck: key removed from {config_file.config_path()}", err=True)
    else:
        click.echo("tgcheck: the config file holds no key", err=True)


@config.command("path")
@handle_errors
def config_path_command():
    """Print the config file's path.

    \b
    Example:
      tgcheck config path
    """
    click.echo(str(config_file.config_path()))


def main() -> None:
    command_errors.standalone = True
    # One command, one process: what the imports made lives until it exits, so
    # the cyclic collector need never scan it again; and a check of 200,000
    # numbers makes a million containers, each 700 of which would start a
    # collection. Collected less often, not never (0.14 s to 0.06 s of CPU in a
    # new 200,000-number check, see docs/performance.md).
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    cli(prog_name="tgcheck")


if __name__ == "__main__":
    main()

