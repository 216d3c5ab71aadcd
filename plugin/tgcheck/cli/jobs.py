"""The journal's commands: `tgcheck jobs` (list, abandon, attach), `resume`, `export`."""

from __future__ import annotations

import json

import click

from .. import (
    fields,
    hints,
    plugins,
    redact,
)
from ..billing import billing_of
from ..command_errors import Interrupted, handle_errors
from ..errors import InputError, TgcheckError
from ..models import processed as processed_of
from ..output_style import OutputStyle
from ..progress import make_display
from ..store import LIVE_STATES, MISSING
from ..store.journal import JobState
from ..tables import (
    output_format,
    with_fields,
    write_table,
)
from .app import cli
from .interrupt import let_creates_land, uncertain_note
from .options import (
    PROGRESS_CHOICES,
    engine_for,
    find_job,
    money,
    note,
    output_options,
    provider_option,
    sandbox_store_option,
    stamp,
    store_engine,
    writing,
)


# -- the journal ------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True,
              help="Also finished, failed, lost and abandoned jobs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@sandbox_store_option
@click.pass_context
@handle_errors
def jobs(ctx, show_all, as_json, sandbox):
    """List the journal: job, task id, state, counts, billed calls, cost, created, updated.

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
                   "billed\tcreated\tupdated\testimated\tactual")
    for j in rows:
        billed = _billed(j)
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
                "created": stamp(j.created_at), "updated": stamp(j.updated_at),
                "estimated_amount": j.estimated_amount, "actual_amount": j.actual_amount,
                "currency": j.currency, "billed_calls": billed}))
            continue
        click.echo(f"{j.id}\t{task_id}\t{j.state}\t{status_word}\t{j.count}\t"
                   f"{'' if processed is None else processed}\t{j.status_calls}\t"
                   f"{'' if billed is None else billed}\t"
                   f"{stamp(j.created_at)}\t{stamp(j.updated_at)}\t"
                   f"{money(j.estimated_amount, j.currency)}\t"
                   f"{money(j.actual_amount, j.currency)}")


def _billed(job) -> int | None:
    """The job's billed calls by its provider's declared billing (a per-number
    create counts its numbers); None for a provider not installed here."""
    try:
        factory = plugins.get_provider_factory(job.provider.partition(":")[0])
    except TgcheckError:
        return None
    return billing_of(factory).billed(job.status_calls, bool(job.task_id), job.count)


ABANDON_MEANS = {
    JobState.NEW: "its create was never sent: nothing was paid",
    JobState.SUBMITTING: "its create may be on its way: a task may exist and be paid",
    JobState.OPEN: "its task was created and paid and may still finish at the provider; its "
                   "answers will not be collected",
    JobState.STALLED: "its task was created and paid and may still finish at the provider; "
                      "its answers will not be collected",
    JobState.UNCERTAIN: "a task may exist at the provider and be paid; tgcheck will not look "
                        "for it",
    JobState.LOST: "its task is gone at the provider",
}


@jobs.command("abandon")
@click.argument("job_ref", metavar="JOB")
@sandbox_store_option
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
        job = find_job(engine, job_ref)
        was = engine.abandon(job.id, "abandoned by the user (tgcheck jobs abandon)")
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
@sandbox_store_option
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
        job = find_job(engine, job_ref)
        was = engine.attach(job.id, task_id)  # the recovery file's copy settled too
    finally:
        engine.close()
    click.echo(hints.for_store(f"tgcheck: task {task_id} attached to job {was.id} (it was "
                               f"{was.state}); `tgcheck resume` or the same check collects "
                               "its answers", sandbox), err=True)


@cli.command()
@click.option("--progress", type=click.Choice(PROGRESS_CHOICES),
              default="auto", show_default=True, help="Progress on stderr (as for check).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.option("--sandbox", is_flag=True,
              help="Finish the open jobs of `check --sandbox` runs (simulated, no key).")
@provider_option
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
            cut_off = let_creates_land(engine)
            raise Interrupted(
                f"interrupted: {engine.creates.recorded} task(s) created by this run; open "
                "jobs stay in the journal and the next run attaches to them"
                + uncertain_note(cut_off)) from None
        finally:
            for job, why in skipped:
                note(hints.for_store(f"skipped job {job.id} ({job.state}, {job.count} "
                                      f"numbers): {why}", sandbox), progress, False)
    click.echo(f"tgcheck: {done} open job(s) finished"
               + (f", {len(skipped)} skipped (see above)" if skipped else ""), err=True)


@cli.command()
@click.argument("job_ref", metavar="JOB")
@output_options()
@click.option("--fields", "chosen_fields", metavar="NAMES",
              help="The task type's fields to write after its answer, comma-separated "
                   "(default: all; `none`: only the answer).")
@sandbox_store_option
@handle_errors
def export(job_ref, output, out_format, raw_csv, chosen_fields, sandbox):
    """Write a finished job's answers (number, answer, its task type's fields,
    status), from the store.

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
        job = find_job(engine, job_ref)
        if job.state != JobState.DONE:
            hint = ("`tgcheck resume` collects it"
                    if job.state in (JobState.NEW, JobState.OPEN, JobState.STALLED)
                    else "it has no answers")
            raise TgcheckError(f"job {job.id} is {job.state}, not done: {hint}")
        ttype = plugins.get_task_type(job.task_type)
        try:
            field_names = fields.choose(ttype.fields, chosen_fields)
        except ValueError as e:
            raise InputError(f"--fields: {e}") from None
        answers = engine.store.job_answers(job.id)
        # Typed as `check` types them: one column each after the answer.
        found = engine.fields_of(job.task_type, {n: (v, s) for n, v, s in answers}) \
            if field_names else None
    finally:
        engine.close()
    missing = sum(status == MISSING for _, _, status in answers)
    # The job's own numbers and their stored fields, a row each (no input to join).
    rows = with_fields(answers, 0, [found.get(number) for number, _, _ in answers],
                       field_names, cells=fmt not in ("csv", "json")) if field_names else answers
    with writing(output):
        count = write_table(output, fmt, ["number", ttype.column, *field_names, "status"],
                            rows, OutputStyle(csv_safe=not raw_csv))
    note = f"; {missing} no longer in the store (cache cleared)" if missing else ""
    click.echo(f"tgcheck: job {job.id}: {count} answers{note}", err=True)
