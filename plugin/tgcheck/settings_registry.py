"""The one table of settings: name, variable, default, parser, bounds, help.

Every setting tgcheck reads lives here: the fields of `tgcheck.Settings` (the
dataclass takes its fields and defaults from CORE), the few a process reads once
before any Settings exist (`process=True`: which plugins load, --debug, the host
name, Excel's wait), and the plugins' own, registered into the same table
through `tgcheck_register_settings` (tgcheck.plugin_settings). `read` is the one
function that turns the environment into values; a bad value is a ConfigError
(exit code 2) naming the variable and what it accepts. No other module reads a
TGCHECK_* variable itself (tests/core/test_settings.py checks that).

A leaf module: it imports nothing of tgcheck but the error and secret types, so
the plugin loader and the store may read their setting without an import cycle.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import platformdirs

from .errors import ConfigError
from .secret import Secret

# The provider a Settings selects when nothing says otherwise (TGCHECK_PROVIDER).
DEFAULT_PROVIDER = "ekycpro"


class Expected(ValueError):
    """Raised by a parser: the text is not what the setting accepts; its message
    says what is ("a number", "1 or 0")."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its name, the environment variable users set, its default.

    parse turns the variable's text into the value (ValueError: the user is told
    the variable's name and the text; Expected: also what it accepts). provider:
    the setting applies only while that provider is selected (None: always).
    at_least / above: the lowest value (above: that value excluded); choices: the
    only values accepted. These bounds are checked for a value from the
    environment and for one given to Settings(...) alike.

    The rest serves the core's own rows: factory makes a default per Settings
    (a folder, a dict); secret keeps the value out of reprs and `tgcheck config`;
    process marks a setting read once by the process, not a Settings field.
    """

    name: str
    env: str | None
    default: object = None
    parse: Callable[[str], object] = str
    provider: str | None = None
    help: str = ""
    at_least: float | None = None
    above: float | None = None
    choices: tuple | None = None
    factory: Callable[[], object] | None = dataclasses.field(default=None, repr=False)
    secret: bool = False
    process: bool = False
    # A set-but-empty variable is a value of its own (TGCHECK_LOAD_PLUGINS="":
    # no plugins), not "unset".
    blank_is_value: bool = False

    @property
    def label(self) -> str:
        """How errors name the setting: its variable, else its keyword."""
        return self.env or self.name

    def applies_to(self, provider: str) -> bool:
        return self.provider is None or self.provider == provider

    def read(self, raw: str) -> object:
        """The value of the environment variable's text, or a ConfigError naming it."""
        shown = raw if self.secret is False else "(hidden)"
        try:
            value = self.parse(raw.strip())
        except Expected as e:
            raise ConfigError(f"{self.label} must be {e}, not {shown[:80]!r}") from None
        except ValueError as e:
            raise ConfigError(f"{self.label} is not valid ({e}): {shown[:80]!r}") from None
        self.check(value)
        return value

    def check(self, value: object) -> None:
        """ConfigError naming the variable and the accepted range when value is outside it."""
        if value is None:
            return  # "not given": the provider's or the task type's own value
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.label} must be one of {', '.join(map(str, self.choices))}"
                              f", not {value!r}")
        low, strict = (self.above, True) if self.above is not None else (self.at_least, False)
        if low is None:
            return
        if not isinstance(value, numbers.Real):  # Settings(timeout="60") from Python
            raise ConfigError(f"{self.label} must be a number, not {value!r}")
        if not math.isfinite(value) or value < low or (strict and value == low):
            bound = "above" if strict else "of at least"
            raise ConfigError(f"{self.label} must be a number {bound} {low:g}, not {value!r}")

    def default_value(self) -> object:
        return self.factory() if self.factory is not None else self.default


# -- parsers: each raises Expected with what it accepts -------------------------
def number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise Expected("a number") from None


def whole_number(raw: str) -> int:
    value = number(raw)
    if not math.isfinite(value) or value != int(value):
        raise Expected("a whole number")
    return int(value)


_YES = ("1", "yes", "true", "on")
_NO = ("0", "no", "false", "off")


def flag(raw: str) -> bool:
    word = raw.lower()
    if word not in _YES + _NO:
        raise Expected("1 or 0")
    return word in _YES


def present(raw: str) -> bool:
    """Any value turns it on (TGCHECK_DEBUG=yes, =1, =x)."""
    return True


def names(raw: str) -> tuple[str, ...]:
    """A comma-separated list; blanks dropped."""
    return tuple(n.strip() for n in raw.split(",") if n.strip())


class Options(dict):
    """Settings.extra: a dict that hashes (Settings are cached by value), by its items."""

    def __hash__(self) -> int:
        return hash(frozenset(self.items()))


def _data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tgcheck", appauthor=False))


# -- the core's settings, in the order of Settings' fields -------------------------
# The README's settings table lists every variable here (a test keeps it so).
CORE: tuple[Setting, ...] = (
    Setting("api_key", "TGCHECK_API_KEY", None, Secret, secret=True,
            help="the API key (else the config file's, `tgcheck config set-key`)"),
    # "": the provider's own default (its registered base_url Setting).
    Setting("base_url", "TGCHECK_BASE_URL", "", help="the API's base URL"),
    Setting("home", "TGCHECK_HOME", None, Path, factory=_data_dir,
            help="folder of the local store"),
    Setting("provider", "TGCHECK_PROVIDER", DEFAULT_PROVIDER, help="the provider plugin"),
    # Bounds of the poll interval. The engine polls as rarely as the task's own
    # progress allows; these only clamp it. Every status call is billed.
    Setting("poll_min", "TGCHECK_POLL_MIN", 2.0, number, above=0,
            help="shortest poll interval, seconds"),
    Setting("poll_max", "TGCHECK_POLL_MAX", 1800.0, number, above=0,
            help="longest poll interval, seconds"),
    # A NaN or negative freshness would make every answer stale and every run pay again.
    Setting("max_age_days", "TGCHECK_MAX_AGE_DAYS", 30.0, number, at_least=0,
            help="how long an answer stays fresh, days"),
    # A number the result file left out is "unknown"; it is not resubmitted on its
    # own before this many hours, or every Excel recalculation would pay for it.
    Setting("unknown_retry_hours", "TGCHECK_UNKNOWN_RETRY_HOURS", 24.0, number, at_least=0,
            help="before a left-out number is sent again, hours"),
    # Above this many numbers a set is split into several tasks. None: the
    # provider's registered default (a Setting named max_task_size), else 100,000.
    Setting("max_task_size", "TGCHECK_MAX_TASK_SIZE", None, whole_number, at_least=1,
            help="most numbers in one task"),
    Setting("max_parallel_tasks", None, 4, whole_number, at_least=1,
            help="tasks of one check run side by side"),
    # The whole wait for one job (create, poll, download) before DeadlineExceeded;
    # 0 would create (and pay for) a task it cannot wait for.
    Setting("timeout", "TGCHECK_TIMEOUT", 4 * 3600.0, number, above=0,
            help="the longest wait for one job, seconds"),
    Setting("http_timeout", None, 60.0, number, above=0, help="one HTTP call's timeout, seconds"),
    # First backoff step after a transient fault; doubles per attempt (with jitter).
    Setting("retry_base", "TGCHECK_RETRY_BASE", 0.5, number, at_least=0,
            help="first backoff step after a transient fault, seconds"),
    # Billed status calls one job may make before it is `stalled` and no longer
    # polled until the user asks (`tgcheck resume`, `tgcheck status`). A task that
    # never moves costs 17 calls over the 4-hour timeout (the schedule doubles its
    # interval while nothing moves, across runs too); a normal task of up to 100,000
    # numbers, under 20 (measured in benchmarks/: at most 16 for a 60-minute task).
    # 20: the goal for a stuck task over 4 hours, re-run from cron or Excel.
    Setting("max_status_calls", "TGCHECK_MAX_STATUS_CALLS", 20, whole_number, at_least=1,
            help="billed status calls one job may make before it is stalled"),
    # Fewest numbers a task may hold; None: the task type's own minimum (none for tg).
    Setting("min_task_size", "TGCHECK_MIN_TASK_SIZE", None, whole_number, at_least=0,
            help="fewest numbers a task may hold"),
    # Fill a task below the minimum with the stalest stored answers (refreshed).
    Setting("top_up", "TGCHECK_TOP_UP", False, flag,
            help="fill a task below the minimum with the stalest stored answers"),
    # Reuse only stored answers the selected provider gave (by default any
    # provider's answer of the task type counts: a fact about the number).
    Setting("same_provider_only", "TGCHECK_SAME_PROVIDER_ONLY", False, flag,
            help="reuse only answers the selected provider gave"),
    # How long a provider that cannot be reached at all (DNS, refused, TLS) is
    # retried before one clear error: nothing was sent, so waiting hours helps no one.
    Setting("connect_budget", "TGCHECK_CONNECT_BUDGET", 60.0, number, at_least=0,
            help="retrying a provider that cannot be reached, seconds"),
    # How long a create answered only with server errors (5xx, free: nothing is
    # created) is retried before one clear error, instead of the whole timeout.
    Setting("server_error_budget", "TGCHECK_SERVER_ERROR_BUDGET", 300.0, number, at_least=0,
            help="retrying a create answered only with server errors, seconds"),
    # Off a terminal, the longest silence of the progress output while waiting.
    Setting("progress_every", "TGCHECK_PROGRESS_EVERY", 60.0, number, above=0,
            help="longest silence of the progress output off a terminal, seconds"),
    # A check with at most this many new numbers asks them one by one first, where
    # the provider has a synchronous check (tgcheck.fast_path); 0 turns that off.
    Setting("sync_max", "TGCHECK_SYNC_MAX", 20, whole_number, at_least=0,
            help="most new numbers asked one by one first (0: off)"),
    # The built-in sandbox started for this run (--sandbox): its port changes from
    # run to run, so its jobs are keyed by "the sandbox", not by its URL, and a
    # re-run or `tgcheck resume --sandbox` finds them.
    Setting("sandbox", None, False, flag, help="the built-in sandbox started for this run"),
    # The base URL is a sandbox (--sandbox, an embedded sandbox, TGCHECK_SANDBOX=1):
    # its answers are simulated, kept in the sandbox's own store and labelled so.
    # Never inferred from the URL: a loopback URL may be a local relay, an SSH
    # tunnel or a stand-in for the real vendor, whose answers are real.
    Setting("simulated", "TGCHECK_SANDBOX", False, flag,
            help="the base URL is a sandbox: its answers are simulated"),
    # A postgresql:// URL puts the answers and the journal in a database a team
    # shares; None, the SQLite file under home (store_path). It may hold a
    # password: show it only through tgcheck.store.describe_url.
    Setting("store_url", "TGCHECK_STORE_URL", None, secret=True,
            help="a PostgreSQL store a team shares"),
    # The selected provider's own settings (tgcheck_register_settings), by name:
    # read them with Settings.option(name).
    Setting("extra", None, None, factory=Options, help="the provider's own settings"),
)

# Read once by the process, before (or without) any Settings.
PROCESS: tuple[Setting, ...] = (
    # Unset: every installed plugin; "": none (tests, reproducible runs).
    Setting("load_plugins", "TGCHECK_LOAD_PLUGINS", None, names, process=True,
            blank_is_value=True, help="plugin entry points to load"),
    Setting("debug", "TGCHECK_DEBUG", False, present, process=True,
            help="tracebacks on errors, like --debug"),
    # Tests pose as two machines with it; containers that share a name tell
    # themselves apart.
    Setting("host_name", "TGCHECK_HOST_NAME", None, process=True,
            help="the host part of a job's owner"),
    Setting("task_type", "TGCHECK_TASK_TYPE", "tg", process=True,
            help="what Excel's TG_CHECK and the macro ask"),
    # Below the usual 30-100 s timeouts of proxies and of Excel's add-in runtime.
    Setting("excel_wait", "TGCHECK_EXCEL_WAIT", 20.0, number, above=0, process=True,
            help="how long an Excel call waits before answering pending, seconds"),
    # `tgcheck check` reads, checks and writes an input of more rows than this a
    # chunk at a time (chunked_check.py): its memory follows this, not the file.
    # The SQL face streams its column and looks it up 5x this many at a time
    # (chunked_check.lookup_size).
    Setting("check_chunk_rows", "TGCHECK_CHECK_CHUNK_ROWS", 200_000, whole_number,
            at_least=1, process=True,
            help="rows `tgcheck check` holds at once (the SQL face looks up 5x this many)"),
)

FIELDS: dict[str, Setting] = {s.name: s for s in CORE}
_PROCESS = {s.name: s for s in PROCESS}


def _text(setting: Setting, env: Mapping[str, str]) -> str | None:
    """The variable's text, None when unset (or blank, unless blank is a value)."""
    raw = env.get(setting.env) if setting.env else None
    if raw is None or (not raw.strip() and not setting.blank_is_value):
        return None
    return raw


def given(setting: Setting, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user set this setting's variable."""
    return _text(setting, os.environ if env is None else env) is not None


def is_set(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user set the variable of this core or process setting."""
    return given(FIELDS.get(name) or _PROCESS[name], env)


def value(name: str, env: Mapping[str, str] | None = None) -> object:
    """A process setting's value: from its variable, else its default."""
    setting = _PROCESS[name]
    raw = _text(setting, os.environ if env is None else env)
    return setting.default_value() if raw is None else setting.read(raw)


def read(table: Iterable[Setting], env: Mapping[str, str] | None = None) -> dict:
    """Settings keywords from the environment, for every setting of the table the
    user set: a core field by its name, a plugin's own setting under "extra".
    The first setting of a name read wins (the core's before a plugin's of the
    same name: TGCHECK_BASE_URL before a provider's base_url default). A field
    left out keeps its default (Settings, or the provider's)."""
    env = os.environ if env is None else env
    values: dict = {}
    extra: dict = {}
    for setting in table:
        if setting.process:
            continue
        raw = _text(setting, env)
        if raw is None:
            continue
        into = values if setting.name in FIELDS else extra
        if setting.name not in into:
            into[setting.name] = setting.read(raw)
    if extra:
        values["extra"] = extra
    return values


def everything(plugin_settings: Iterable[Setting] = ()) -> list[Setting]:
    """Every setting with a variable: the core's, the process's and the plugins' (for
    `tgcheck config` and the documentation test), one per variable."""
    seen: dict[str, Setting] = {}
    for setting in (*CORE, *PROCESS, *plugin_settings):
        if setting.env and setting.env not in seen:
            seen[setting.env] = setting
    return list(seen.values())
