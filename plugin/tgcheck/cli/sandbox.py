"""`tgcheck sandbox`: a provider's simulated server on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import sys
import threading

import click

from ..command_errors import handle_errors
from ..errors import InputError
from ..main_waits import MAIN_WAIT
from .app import cli


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

    from ..sandbox import Faults, Sandbox

    if provider not in (None, "ekycpro"):
        from ..sandbox.embedded import sandbox_factory

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
            # Short waits, not one: a server thread may take the SIGINT (main_waits).
            while not threading.Event().wait(MAIN_WAIT):
                pass
        except KeyboardInterrupt:
            click.echo(f"stopped; billed calls: {dict(sb.billed)}", err=True)
