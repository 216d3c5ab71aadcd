"""`tgcheck check`: read a table, check its numbers, write it back with answers."""

from __future__ import annotations

import collections
import dataclasses
import json
import math

import click

from .. import (
    fields,
    formats,
    plugins,
    progress_text,
    regions,
    settings_registry,
)
from ..billing import FREE, PER_NUMBER, PER_TASK, billing_of
from ..chunked_check import ChunkedInput
from ..command_errors import Interrupted, handle_errors
from ..engine import CheckRequest, Engine
from ..errors import InputError
from ..formats import check_output
from ..output_style import style_for
from ..progress import billed_calls, billed_here, make_display
from ..tables import (
    INPUT_FORMATS,
    answer_names,
    answer_rows,
    check_unchanged,
    open_input,
    output_format,
    row_regions,
    short,
    with_fields,
    write_table,
)
from .app import cli
from .interrupt import let_creates_land, uncertain_note
from .options import (
    PROGRESS_CHOICES,
    base_url_option,
    engine_for,
    note,
    output_options,
    provider_option,
    writing,
)


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
@output_options(lambda: "Write here; the format follows the extension: "
                + formats.listing() + ". Default: CSV on stdout.")
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
@provider_option
@base_url_option
@click.option("--progress", type=click.Choice(PROGRESS_CHOICES),
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
            note(message, progress, quiet)
        # More rows than a chunk: read, checked and written a chunk at a time
        # (chunked_check.py), memory bounded by the chunk, not the file; a dry
        # run counts in the same first read.
        values, chunked = ChunkedInput.open(
            table, settings_registry.value("check_chunk_rows"), region, region_column)
        if chunked is not None:
            compact = chunked.distinct_numbers(counting=dry_run)
            if compact is None:
                chunked = None  # a number with no compact key: the whole column
        if region_column is not None and chunked is None:
            region = row_regions(table, region_column, region)
        if chunked is not None and not dry_run:
            # Pass 1 counted the rows: an output that cannot take them fails before
            # a task is paid for.
            check_output(output, fmt, rows=chunked.rows, folder=True)
        elif not dry_run:
            # The engine lists the values anyway; listed here, their count lets an
            # output that cannot be written fail before a task is paid for.
            if values is None:  # chunks, but a number with no compact key
                values = list(table.numbers())
            check_output(output, fmt, rows=len(values), folder=True)
        overrides = {"max_age_days": max_age, "timeout": timeout, "provider": provider}
        with engine_for(sandbox, base_url, serve=not dry_run, quiet=quiet,
                        **overrides) as engine:
            if dry_run:
                if chunked is not None:
                    counts = chunked.plan(engine, compact, task_type=ttype.qualified_name,
                                          retry_unknown=retry_unknown, top_up=top_up)
                else:
                    counts = engine.plan(table.numbers() if values is None else values,
                                         task_type=ttype.qualified_name,
                                         region=region, retry_unknown=retry_unknown,
                                         top_up=top_up)
                _dry_run(engine, ttype, counts, out_format)
                return
            tally = collections.Counter()  # rows per status, counted as they are written
            recorder = _Recorder(make_display(progress, quiet,
                                              engine.settings.progress_every))
            with recorder.display:
                try:
                    if chunked is not None:
                        chunked.check(engine, compact, CheckRequest(
                            ttype.qualified_name, None, retry_unknown, resubmit, recorder, None,
                            top_up))
                    else:
                        answers = engine.check_column(
                            values, task_type=ttype.qualified_name, region=region,
                            retry_unknown=retry_unknown, resubmit=resubmit,
                            on_event=recorder, top_up=top_up,
                        )
                except KeyboardInterrupt:
                    cut_off = let_creates_land(engine)
                    raise _interrupted(recorder, engine.creates.recorded, cut_off) from None
            # A .txt table's one column is "input".
            header = [*table.columns, *answer_names(table.columns, [
                "number", ttype.column, *field_names, "status", "reason"])]
            if output is None or output == "-":
                if chunked is not None:
                    chunked.check_unchanged()
                else:
                    check_unchanged(table, values)

            def then() -> str:
                ids = _job_ids(engine, recorder.last)
                how = (f"`tgcheck export {ids[0]} -o FILE` writes them, or run "
                       if len(ids) == 1 else "run ")
                return (f"; the answers are stored: {how}the same command again with "
                        "another -o, and nothing is paid again")

            with writing(output, then):
                if chunked is not None:
                    rows = chunked.output_rows(engine, ttype, compact, tally, field_names,
                                               cells=fmt not in ("csv", "json"))
                else:
                    rows = answer_rows(table, values, answers, tally)
                if field_names and chunked is None:
                    # One column per field after the answer (issue 24).
                    rows = with_fields(rows, len(table.columns), answers.fields(),
                                       field_names, cells=fmt not in ("csv", "json"))
                # Formulas can hide in the input's own columns and in a provider's
                # text fields; tgcheck's number, answer, status and reason cannot.
                own = len(table.columns)
                text_columns = (*range(own), *range(own + 2, own + 2 + len(field_names)))
                if chunked is None and answers.found == values:
                    # Every number cell is a valid E.164 number as it stands (the
                    # normaliser gave each back): "+" and digits, never a formula,
                    # so its column is not searched (a .txt: no column at all).
                    text_columns = tuple(c for c in text_columns if c != table.number_index)
                write_table(output, fmt, header, rows, dataclasses.replace(
                    style_for(table, bom=bom, csv_safe=not raw_csv),
                    csv_text_columns=text_columns))
        summary = ", ".join(f"{tally[k]} {k}" for k in ("ok", "unknown", "invalid", "blank"))
        where = f"to {output}" if output else "to stdout"
        # The cost of tasks this run paid for (not of those it only waited for).
        cost = _cost_note(engine.store.job_by_key(k) for k, e in recorder.last.items()
                          if not e.driven_by)
        written = chunked.rows if chunked is not None else len(values)
        note(f"wrote {written} rows {where} ({summary}; {recorder.billed} billed "
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


def _interrupted(recorder: _Recorder, created: int = 0, cut_off: int = 0) -> Interrupted:
    """What Ctrl-C leaves: the answers of finished tasks are stored, the others
    run on at the provider and their jobs stay open for the next run."""
    events = list(recorder.last.values())
    done = [e for e in events if e.kind == "done"]
    stored = sum(e.numbers for e in done)
    uncertain = uncertain_note(cut_off)
    if not events and not created:
        return Interrupted("interrupted before any task was created; run the same command "
                           "again to check" + uncertain)
    return Interrupted(
        f"interrupted: {created} task(s) created by this run, {stored:,} answers are stored "
        f"({len(done)} of {len(events)} task(s) finished); tasks still running go on at the "
        "provider and their jobs stay open: run the same command again and it attaches to "
        "them (no --resubmit needed; nothing is paid twice)" + uncertain)


def _dry_run(engine, ttype, counts: dict, out_format) -> None:
    """Show a plan's counts (Engine.plan's, or a chunked input's)."""
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
    # The fast path's numbers may need no task at all: said first, the task as what
    # takes those it does not answer.
    fast = (f"ask all {counts['fast_path']:,} one by one first (the fast path, "
            "TGCHECK_SYNC_MAX; each answered is billed one call) and bill those not "
            "answered in at most " if counts.get("fast_path") else f"bill {billed:,} numbers in ")
    click.echo(f"tgcheck: dry run: no API call made; a check would {fast}"
               f"{tasks} task{'s' if tasks != 1 else ''}{filled}{below}"
               f"{_billing_note(engine, tasks, billed)}", err=True)


def _billing_note(engine, tasks: int, numbers: int) -> str:
    """What the tasks' calls cost by the provider's declared billing (its class:
    a dry run needs no key, so no provider is built)."""
    if not tasks:
        return ""
    billing = billing_of(plugins.get_provider_factory(engine.settings.provider))
    per = {PER_TASK: "one a task", PER_NUMBER: "one a number", FREE: "free"}[billing.create]
    creates = billing.create_units(numbers) if billing.create == PER_NUMBER else (
        tasks if billing.create == PER_TASK else 0)
    return (f"; billed calls: {creates:,} for the create{'s' if tasks != 1 else ''} ({per}), "
            f"then each status call ({'billed' if billing.status else 'free'})"
            + (" and each result download or page (billed)" if billing.results else ""))
