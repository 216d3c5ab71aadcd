"""Commands that ask the provider once: `tgcheck status` and `tgcheck balance`."""

from __future__ import annotations

import json

import click

from .. import (
    hints,
    redact,
)
from ..billing import billing_of
from ..command_errors import handle_errors
from ..engine import Engine
from ..errors import TgcheckError
from .app import cli
from .options import (
    base_url_option,
    engine_for,
    make_settings,
    money,
    provider_option,
)


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
@base_url_option
@click.option("--sandbox", is_flag=True, help="Ask the built-in sandbox (a `check --sandbox` "
                                               "task; simulated, no key).")
@provider_option
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
    with engine_for(sandbox, base_url, quiet=True, provider=provider) as engine:
        other = engine.store.job_by_task_id(task_id)
        if other is not None and other.provider != engine.provider.identity:
            server = other.provider.partition(":")[2] or other.provider
            click.echo(f"tgcheck: job {other.id} with task {task_id} was made for another "
                       f"server ({redact.clean(server, None)}); asking this one leaves "
                       "that job as it is", err=True)
        # One status call, kept in the journal by the engine like its own polls.
        record, job, reopened, _ = engine.poll_once(task_id)
    fields = {"task_id": record.task_id, "status": record.status, "total": record.total,
              "success": record.success, "failure": record.failure,
              "processed": record.processed, "created_at": record.created_at,
              "result_url": record.result_url, "message": record.message,
              "estimated_amount": money(record.estimated_amount, record.currency) or None,
              "actual_amount": money(record.actual_amount, record.currency) or None,
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
                                 billing_of(engine.provider).status), err=True)
    if reopened:
        click.echo(hints.for_store(f"tgcheck: job {job.id} was stalled; it is open again "
                                   "with a new budget of status calls: the same check, or "
                                   "`tgcheck resume`, collects it", sandbox), err=True)


def _status_call_note(simulated: bool, billed: bool) -> str:
    """What the one status call cost: nothing at a sandbox, else the provider's rule."""
    if simulated:
        return "tgcheck: that was one status call to the sandbox (simulated: nothing is billed)"
    return ("tgcheck: that was one billed status call" if billed
            else "tgcheck: that was one status call (not billed by this provider)")


@cli.command()
@base_url_option
@click.option("--json", "as_json", is_flag=True, help='As {"balance": ..., "currency": ...}.')
@provider_option
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
    billed = {True: "billed", False: "free"}.get(billing_of(engine.provider).balance,
                                                 "possibly billed")
    click.echo(f"tgcheck: that was one call to {name} for the balance ({billed})", err=True)
