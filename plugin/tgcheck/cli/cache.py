"""`tgcheck cache`: the local store of answers (stats, show, export, clear)."""

from __future__ import annotations

import contextlib
import json
import sys
import time

import click

from .. import plugins
from ..command_errors import handle_errors
from ..errors import InputError
from ..fields import as_cell, as_text, typed
from ..output_style import OutputStyle
from ..tables import (
    output_format,
    write_table,
)
from .app import cli
from .options import (
    output_options,
    sandbox_store_option,
    stamp,
    store_engine,
    writing,
)


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
@sandbox_store_option
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
        click.echo(f"{task_type}\t{status_word}\t{count}\t{fresh or 0}\t{stamp(oldest)}\t"
                   f"{stamp(newest)}")
    click.echo("jobs:    " + (", ".join(f"{n} {s}" for s, n in states.items()) or "none"))


@cache.command("show")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--task-type", default="tg", show_default=True, help="Which answers.")
@click.option("--region", help="Region for national numbers (CH, Switzerland, 41).")
@sandbox_store_option
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
        # Joined by the engine's answer column: this command joins nothing itself.
        column = engine.stored_answers(list(numbers), task_type=task_type, region=region)
    finally:
        engine.close()
    click.echo("input\tnumber\tvalue\tstatus\tchecked_at\ttask_id\tprovider")
    for given, number, status, answer in column.origins():
        if number is None:  # invalid or blank: answered locally, never sent, never stored
            click.echo(f"{given}\t\t\t{status}\t\t\t")
        elif answer is None:
            click.echo(f"{given}\t{number}\t\tnot stored\t\t\t")
        else:
            click.echo(f"{given}\t{number}\t{answer.value or ''}\t{answer.status}\t"
                       f"{stamp(answer.checked_at)}\t{answer.task_id or ''}\t"
                       f"{answer.provider or ''}")


@cache.command("export")
@output_options()
@click.option("--task-type", help="Only this task type's answers.")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Only answers checked more than DAYS ago.")
@sandbox_store_option
@handle_errors
def cache_export(output, out_format, raw_csv, task_type, older_than, sandbox):
    """Write every stored answer with where it came from: task_type, number,
    value, its task type's fields (one column each, empty for another task
    type's rows), status, checked_at, task_id, provider (empty: stored before
    tgcheck recorded it).

    \b
    Examples:
      tgcheck cache export -o answers.parquet
      tgcheck cache export --task-type tg > answers.csv
    """
    fmt = output_format(output, out_format)
    engine = store_engine(sandbox)
    try:
        declared = _Declared()
        names = _field_columns(engine, task_type, declared)
        render = as_cell if fmt not in ("csv", "json") else as_text
        stored = engine.store.iter_answers(task_type=task_type, older_than_days=older_than)
        # Closed here, on any error too: its cursor must close before the store does.
        with contextlib.closing(stored), writing(output):
            rows = ((t, n, v, *_field_cells(declared(t, provider), found, names, render), s,
                     stamp(c), task, provider)
                    for t, n, v, s, c, task, provider, found in stored)
            count = write_table(output, fmt, ["task_type", "number", "value", *names, "status",
                                              "checked_at", "task_id", "provider"], rows,
                                OutputStyle(csv_safe=not raw_csv))
    finally:
        engine.close()
    click.echo(f"tgcheck: {count} answers exported", err=True)


def _field_columns(engine, task_type: str | None, declared) -> list[str]:
    """The field columns of an export: each field of the task types it holds (the
    one asked for, else those the store has answers of), in their declared order,
    a name two task types declare once. Only tg answers: none, as before fields."""
    held = [task_type] if task_type else sorted(
        {s.task_type for s in engine.store.answer_stats(max_age_days=0)})
    names: dict[str, None] = {}
    for name in held:
        ttype = declared(name, None)
        names.update(dict.fromkeys(ttype.field_names if ttype else ()))
    return list(names)


class _Declared:
    """The task type of a stored answer, looked up once per (name, provider): its
    provider's when the store says which, else the selected provider's; None for
    one no installed plugin declares now (its fields stay unread)."""

    def __init__(self):
        self._found: dict = {}

    def __call__(self, task_type: str, provider: str | None):
        key = (task_type, provider)
        if key not in self._found:
            try:
                self._found[key] = plugins.get_task_type(task_type, provider)
            except InputError:
                self._found[key] = None if provider is None else self(task_type, None)
        return self._found[key]


def _field_cells(ttype, stored: str | None, names: list[str], render) -> list:
    """A stored answer's fields (JSON, or None) typed as `check` writes them: one
    cell per export column, empty where its task type has no such field."""
    if not names:
        return []
    values = typed(ttype.fields, json.loads(stored)) if stored and ttype else {}
    return [render(values.get(name)) for name in names]


@cache.command("clear")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Only answers checked more than DAYS ago (default: all).")
@click.option("--task-type", help="Only this task type's answers.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@sandbox_store_option
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
        deleted = engine.forget_answers(**which)
    finally:
        engine.close()
    click.echo(f"tgcheck: deleted {deleted} answers from {engine.store.path}", err=True)
