"""How every `tgcheck` command ends on an error: one line on stderr, one exit code.

Built-in commands, `tgcheck sql`, the doctor and a plugin's command
(tgcheck_register_commands) take the same decorator, so they share the text
(errors.describe: the key masked) and the rule (errors.exit_code): 0 done,
1 failed, 2 bad usage or input (nothing was sent), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time

import click

from . import hints, redact, settings_registry
from .errors import TgcheckError, describe, exit_code

NO_KEY_CLI = (
    "no API key: set TGCHECK_API_KEY or run `tgcheck config set-key`, or try tgcheck "
    "without one against the sandbox: `tgcheck check FILE --sandbox`"
)
INTERRUPTED = ("interrupted; open jobs stay in the journal and the next run attaches to "
               "them")
# After Ctrl-C, how long job threads may take to let go of their jobs before exit.
INTERRUPT_GRACE = 0.5

# Set by cli.main(): the process is the tgcheck program, not a caller's (tests'
# CliRunner), so it may leave at once after Ctrl-C.
standalone = False


class Interrupted(TgcheckError):
    """Ctrl-C: the message says what is stored and that a re-run attaches."""

    exit_code = 130


def fail(message: str, code: int) -> None:
    """`tgcheck: error: MESSAGE` on stderr, then exit with code."""
    click.echo(f"tgcheck: error: {redact.message(message)}", err=True)
    if code == 130:
        _exit_interrupted()
    sys.exit(code)


def _traceback(e: BaseException, code: int) -> None:
    """--debug: the traceback, through the redaction point like every other line
    (an exception that is not ours may quote a provider's reply)."""
    import traceback

    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    click.echo(redact.message(text).rstrip("\n"), err=True)
    if code == 130:
        _exit_interrupted()
    sys.exit(code)


def _exit_interrupted() -> None:
    """Exit now, not when the threads still in an HTTP call return (a worker in a
    slow reply could hold the exit for a minute). Every answer and journal row is
    committed in SQLite, which survives a hard exit; a job left open is attached
    to by the next run."""
    if not standalone:
        sys.exit(130)
    end = time.monotonic() + INTERRUPT_GRACE
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, end - time.monotonic()))
    if any(t.is_alive() and not t.daemon and t is not threading.current_thread()
           for t in threading.enumerate()):
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(130)
    sys.exit(130)


def handle_errors(fn=None, *, no_key: str = NO_KEY_CLI):
    """A command's errors as one clear line and the documented exit code; a
    traceback only with --debug (the option is added here) or TGCHECK_DEBUG.

    no_key: what a missing API key says in this command (the way to try without
    one that fits it)."""
    if fn is None:
        return functools.partial(handle_errors, no_key=no_key)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False) or settings_registry.value("debug")
        if debug:
            _log_to_stderr()
        try:
            return fn(*args, **kwargs)
        except TgcheckError as e:
            if debug:
                _traceback(e, exit_code(e))
            # A hint repeats --sandbox when it chose the store (hints.py).
            fail(hints.for_store(describe(e, no_key=no_key), kwargs.get("sandbox") is True),
                 exit_code(e))
        except KeyboardInterrupt:
            if debug:
                raise
            fail(INTERRUPTED, 130)
        except BrokenPipeError:
            # `tgcheck check ... | head`: the reader left; say nothing more on stdout.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as e:
            if debug:
                _traceback(e, exit_code(e))
            fail(f"unexpected {describe(e)} (run again with --debug for the traceback, and "
                 "please report it)", exit_code(e))

    return click.option("--debug", is_flag=True, help="Show tracebacks.")(wrapper)


def _log_to_stderr() -> None:
    """--debug: tgcheck's own log (job events, retries) on stderr. Without it no
    log line reaches any stream: stderr is for progress and messages."""
    import logging

    log = logging.getLogger("tgcheck")

    class Stderr(logging.StreamHandler):
        # sys.stderr when the line is written (a test runner may swap it)
        stream = property(lambda self: sys.stderr, lambda self, value: None)

    if not any(type(h).__name__ == "Stderr" for h in log.handlers):
        handler = Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
