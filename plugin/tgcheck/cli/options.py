"""What the commands share: settings and engines, the options several take
(output, provider, sandbox store), notes, stamps, finding a job.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable

import click

from .. import (
    formats,
    redact,
)
from ..engine import Engine
from ..errors import InputError, TgcheckError
from ..progress import JsonProgress
from ..settings import Settings
from ..simulated import simulated_settings

# Store-only commands open the sandbox's store (Settings.simulated, set by
# make_settings) without starting a server: a base URL is needed, never called.
SANDBOX_STORE_URL = "http://127.0.0.1"


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
            # sandbox its store is enough, no server needed; its settings are
            # still a --sandbox run's (its fast path, its jobs' identity).
            if sandbox:
                overrides["sandbox"] = True
            settings = make_settings(sandbox_store=sandbox, base_url=base_url, key=serve,
                                     **overrides)
        engine = Engine(settings)
        stack.callback(engine.close)  # before the sandbox stops
        yield engine


def store_engine(sandbox: bool) -> Engine:
    """An Engine for journal and store commands: no API key needed, no call made."""
    return Engine(make_settings(sandbox_store=sandbox, key=False))


class _FormatChoice(click.Choice):
    """-f's choices: the output formats registered when it is read, not when the
    command was built (a plugin's formats are known once plugins are loaded)."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self):
        return formats.names()

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ sets it: asked instead
        pass


class _FormatsHelpOption(click.Option):
    """An option whose help lists the output formats when help is shown."""

    def __init__(self, *args, help_of: Callable[[], str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._help_of = help_of

    def get_help_record(self, ctx):
        try:
            self.help = self._help_of()
        except TgcheckError:  # a broken plugin: the help without the list
            self.help = "Write here; default: CSV on stdout."
        return super().get_help_record(ctx)


def _suffixes() -> str:
    return ", ".join(f.suffixes[0] for f in formats.FORMATS.values())


def output_options(output_help: Callable[[], str] | None = None):
    """-o/--output and -f/--format, as every command that writes a table has them.
    output_help() says what -o does (asked when help is shown: formats come from
    plugins)."""

    def default_help() -> str:
        return f"Write here ({_suffixes()}); default: CSV on stdout."

    def decorate(fn):
        fn = click.option("--raw-csv", is_flag=True,
                          help="CSV output: write cells as they are. Default: a text cell "
                               "Excel would run as a formula (=, +, -, @, tab, CR first; not "
                               "a number or phone number) gets a leading '.")(fn)
        fn = click.option("-f", "--format", "out_format", type=_FormatChoice(),
                          help="Output format, whatever -o's extension.")(fn)
        return click.option("-o", "--output", type=click.Path(dir_okay=False),
                            cls=_FormatsHelpOption,
                            help_of=output_help or default_help)(fn)

    return decorate


@contextlib.contextmanager
def writing(output: str | None, then=lambda: ""):
    """An OSError while writing to -o FILE is one line naming it; then() says what
    now. On stdout it passes on: a reader that left (`| head`) is handle_errors' job."""
    try:
        yield
    except OSError as e:
        if output is None or output == "-":
            raise
        raise TgcheckError(f"cannot write {output} ({e.strerror or e}){then()}") from None


def base_url_option(fn):
    return click.option("--base-url",
                        help="The API's base URL (default: TGCHECK_BASE_URL or ekycpro).")(fn)


# --progress's displays (progress.make_display), for check and resume.
PROGRESS_CHOICES = ("auto", "rich", "plain", "json", "none")


def provider_option(fn):
    return click.option("--provider", metavar="NAME",
                        help="Who checks: ekycpro or an installed provider plugin "
                             "(default: TGCHECK_PROVIDER, else ekycpro).")(fn)


def sandbox_store_option(fn):
    return click.option("--sandbox", is_flag=True,
                        help="Use the sandbox's store (simulated answers) instead.")(fn)


def stamp(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def note(message: str, progress: str, quiet: bool) -> None:
    if quiet:
        return
    if progress == "json":
        JsonProgress().write({"event": "note", "time": round(time.time(), 3),
                              "message": message})
    else:
        click.echo(f"tgcheck: {message}", err=True)


def find_job(engine: Engine, ref: str):
    """A job by its number, or by the provider's task id."""
    job = engine.store.job(int(ref)) if ref.isdigit() else None
    if job is None:
        job = engine.store.job_by_task_id(ref)
    if job is None:
        raise InputError(f"no job {ref!r} in the journal; `tgcheck jobs --all` lists them")
    return job


def money(amount: str | None, currency: str | None) -> str:
    # The provider's words: through the redaction point, like every TSV cell.
    return "" if amount is None else redact.clean(f"{amount} {currency or ''}".strip(), 60)
