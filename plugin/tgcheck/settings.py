"""Settings from the environment, overridable per call (the CLI's flags do that)."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from . import config_file, plugin_settings, redact
from .errors import ConfigError, NoApiKey
from .plugin_settings import DEFAULT_PROVIDER
from .secret import Secret


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """One spelling per server, for the provider's identity (and so the job key):
    scheme and host in lower case, localhost / 127.0.0.1 / ::1 as 127.0.0.1, no
    default port, no trailing slash. Two spellings of one server must not each
    create (and pay for) a task for the same set on one store."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    else:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            # ::1 and 127.0.0.1 are the loopback both `localhost`s name; other
            # 127.x addresses may be other servers.
            host = "127.0.0.1" if str(ip) in ("127.0.0.1", "::1") else str(ip)
            if ip.version == 6 and host != "127.0.0.1":
                host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def check_url_scheme(url: str, what: str = "URL") -> None:
    """https:// everywhere; plain http:// only for loopback (the sandbox, tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(url):
        return
    host = parts.hostname or ""
    try:
        host += f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is no number: shown as given
        host = parts.netloc.rpartition("@")[2]  # never the user:password part
    raise ConfigError(
        f"{what} must use https:// (plain http:// is allowed only for 127.0.0.1/localhost): "
        f"{parts.scheme}://{host}"
    )


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _env_flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw not in ("", "0", "1", "yes", "no", "true", "false", "on", "off"):
        raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")
    return raw in ("1", "yes", "true", "on")


# (field, its name for users, lowest value, lowest value excluded)
_LIMITS = (
    ("poll_min", "TGCHECK_POLL_MIN", 0, True),
    ("poll_max", "TGCHECK_POLL_MAX", 0, True),
    ("max_age_days", "TGCHECK_MAX_AGE_DAYS", 0, False),
    ("unknown_retry_hours", "TGCHECK_UNKNOWN_RETRY_HOURS", 0, False),
    ("max_task_size", "TGCHECK_MAX_TASK_SIZE", 1, False),
    ("max_parallel_tasks", "max_parallel_tasks", 1, False),
    ("timeout", "TGCHECK_TIMEOUT", 0, True),
    ("http_timeout", "http_timeout", 0, True),
    ("retry_base", "TGCHECK_RETRY_BASE", 0, False),
    ("max_status_calls", "TGCHECK_MAX_STATUS_CALLS", 1, False),
    ("min_task_size", "TGCHECK_MIN_TASK_SIZE", 0, False),
    ("connect_budget", "TGCHECK_CONNECT_BUDGET", 0, False),
    ("progress_every", "TGCHECK_PROGRESS_EVERY", 0, True),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    api_key: Secret | None = dataclasses.field(default=None, repr=False)
    # "": the provider's own default (its registered base_url Setting).
    base_url: str = ""
    home: Path = dataclasses.field(
        default_factory=lambda: Path(platformdirs.user_data_dir("tgcheck", appauthor=False))
    )
    provider: str = DEFAULT_PROVIDER
    # Bounds of the poll interval. The engine polls as rarely as the task's own
    # progress allows; these only clamp it. Every status call is billed.
    poll_min: float = 2.0
    poll_max: float = 1800.0
    max_age_days: float = 30.0
    # A number the result file left out is "unknown"; it is not resubmitted on its
    # own before this many hours, or every Excel recalculation would pay for it.
    unknown_retry_hours: float = 24.0
    # Above this many numbers a set is split into several tasks.
    max_task_size: int = 100_000
    max_parallel_tasks: int = 4
    # The whole wait for one job (create, poll, download) before DeadlineExceeded.
    timeout: float = 4 * 3600.0
    http_timeout: float = 60.0
    # First backoff step after a transient fault; doubles per attempt (with jitter).
    retry_base: float = 0.5
    # Billed status calls one job may make before it is `stalled` and no longer
    # polled until the user asks (`tgcheck resume`, `tgcheck status`). A task that
    # never moves costs 17 calls over the 4-hour timeout (the schedule doubles its
    # interval while nothing moves, across runs too); a normal task of up to 100,000
    # numbers, under 20 (measured in benchmarks/: at most 16 for a 60-minute task).
    # 20: the goal for a stuck task over 4 hours, re-run from cron or Excel.
    max_status_calls: int = 20
    # Fewest numbers a task may hold; None: the task type's own minimum (none for tg).
    min_task_size: int | None = None
    # Fill a task below the minimum with the stalest stored answers (refreshed).
    top_up: bool = False
    # Reuse only stored answers the selected provider gave (by default any
    # provider's answer of the task type counts: a fact about the number).
    same_provider_only: bool = False
    # How long a provider that cannot be reached at all (DNS, refused, TLS) is
    # retried before one clear error: nothing was sent, so waiting hours helps no one.
    connect_budget: float = 60.0
    # Off a terminal, the longest silence of the progress output while waiting.
    progress_every: float = 60.0
    # The built-in sandbox started for this run (--sandbox): its port changes from
    # run to run, so its jobs are keyed by "the sandbox", not by its URL, and a
    # re-run or `tgcheck resume --sandbox` finds them.
    sandbox: bool = False
    # TGCHECK_STORE_URL: a postgresql:// URL puts the answers and the journal in a
    # database a team shares; None, the SQLite file under home (store_path).
    # It may hold a password: show it only through tgcheck.store.describe_url.
    store_url: str | None = dataclasses.field(default=None, repr=False)
    # The selected provider's own settings (tgcheck_register_settings), by name:
    # read them with option(name).
    extra: dict = dataclasses.field(default_factory=plugin_settings.Options)

    def __repr__(self) -> str:
        # The generated repr, but the base URL without any user:password@ in it.
        shown = (f"{f.name}={redact.url_without_userinfo(getattr(self, f.name))!r}"
                 if f.name == "base_url" else f"{f.name}={getattr(self, f.name)!r}"
                 for f in dataclasses.fields(self) if f.repr)
        return f"Settings({', '.join(shown)})"

    def __post_init__(self):
        if self.api_key is not None:
            key = self.api_key.reveal() if isinstance(self.api_key, Secret) else self.api_key
            key = key.strip()  # a pasted key often brings a line break along
            # Spaces, control or non-ASCII characters cannot travel in an HTTP
            # header: say so now, not as a confusing failure mid-create.
            if key and not (key.isascii() and key.isprintable() and " " not in key):
                raise ConfigError("the API key contains spaces, line breaks or non-ASCII "
                                  "characters; copy it again from the provider")
            object.__setattr__(self, "api_key", Secret(key) if key else None)
        object.__setattr__(self, "home", Path(self.home))
        object.__setattr__(self, "extra", plugin_settings.Options(self.extra or {}))
        base_url = self.base_url or plugin_settings.default(self.provider, "base_url")
        if not base_url:
            from . import plugins  # a misspelled provider is "unknown", not "no URL"

            plugins.get_provider_factory(self.provider)
            raise ConfigError(f"the provider {self.provider!r} names no default base URL: "
                              "set TGCHECK_BASE_URL")
        object.__setattr__(self, "base_url", str(base_url).rstrip("/"))
        check_url_scheme(self.base_url, "TGCHECK_BASE_URL")
        # A login in the base URL is a secret like the key: masked wherever it is quoted.
        login = urlsplit(self.base_url)
        if login.password:
            redact.register_secret(login.password)
        if self.store_url:
            from .store.open import check_store_url  # the store's rule; imported only when used

            check_store_url(self.store_url)
        # A NaN or negative freshness would make every answer stale and every run
        # pay again; a timeout of 0 would create (and pay for) a task it cannot
        # wait for. Refused here, for every face.
        for field, name, low, strict in _LIMITS:
            value = getattr(self, field)
            if value is None and field == "min_task_size":
                continue
            if not math.isfinite(value) or value < low or (strict and value == low):
                raise ConfigError(f"{name} must be a number {'above' if strict else 'of at least'}"
                                  f" {low}, not {value!r}")
        if self.poll_min > self.poll_max:
            raise ConfigError("poll bounds must satisfy TGCHECK_POLL_MIN <= TGCHECK_POLL_MAX")

    @classmethod
    def from_env(cls, *, base_url_name: str = "base_url", **overrides) -> Settings:
        """base_url_name: what an error calls a base_url given here (the CLI:
        --base-url); one from the environment is TGCHECK_BASE_URL."""
        env = os.environ
        values: dict = {}
        if env.get("TGCHECK_API_KEY"):
            values["api_key"] = Secret(env["TGCHECK_API_KEY"])
        elif "api_key" not in overrides:
            # The key `tgcheck config set-key` stored (mode 0600), for every face:
            # CLI, Python, Excel and DuckDB.
            key = config_file.stored_key()
            if key is not None:
                values["api_key"] = key
        if env.get("TGCHECK_BASE_URL"):
            values["base_url"] = env["TGCHECK_BASE_URL"]
        if env.get("TGCHECK_HOME"):
            values["home"] = Path(env["TGCHECK_HOME"])
        if env.get("TGCHECK_STORE_URL", "").strip():
            values["store_url"] = env["TGCHECK_STORE_URL"].strip()
        if env.get("TGCHECK_PROVIDER"):
            values["provider"] = env["TGCHECK_PROVIDER"]
        values["poll_min"] = _env_float("TGCHECK_POLL_MIN", cls.poll_min)
        values["poll_max"] = _env_float("TGCHECK_POLL_MAX", cls.poll_max)
        values["max_age_days"] = _env_float("TGCHECK_MAX_AGE_DAYS", cls.max_age_days)
        values["unknown_retry_hours"] = _env_float(
            "TGCHECK_UNKNOWN_RETRY_HOURS", cls.unknown_retry_hours
        )
        values["max_task_size"] = int(_env_float("TGCHECK_MAX_TASK_SIZE", cls.max_task_size))
        values["timeout"] = _env_float("TGCHECK_TIMEOUT", cls.timeout)
        values["retry_base"] = _env_float("TGCHECK_RETRY_BASE", cls.retry_base)
        values["max_status_calls"] = int(_env_float("TGCHECK_MAX_STATUS_CALLS",
                                                    cls.max_status_calls))
        if env.get("TGCHECK_MIN_TASK_SIZE"):
            values["min_task_size"] = int(_env_float("TGCHECK_MIN_TASK_SIZE", 0))
        values["top_up"] = _env_flag("TGCHECK_TOP_UP")
        values["same_provider_only"] = _env_flag("TGCHECK_SAME_PROVIDER_ONLY")
        values["connect_budget"] = _env_float("TGCHECK_CONNECT_BUDGET", cls.connect_budget)
        values["progress_every"] = _env_float("TGCHECK_PROGRESS_EVERY", cls.progress_every)
        provider = overrides.get("provider") or values.get("provider") or DEFAULT_PROVIDER
        fields = {f.name for f in dataclasses.fields(cls)}
        values.update(plugin_settings.from_env(provider, env, fields, values))
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ConfigError as e:
            if overrides.get("base_url") and str(e).startswith("TGCHECK_BASE_URL"):
                # Name the option the user gave, not the variable it overrode.
                raise ConfigError(base_url_name + str(e)[len("TGCHECK_BASE_URL"):]) from None
            raise

    def option(self, name: str):
        """A provider's own setting (tgcheck_register_settings): from the environment
        or Settings(extra={...}), else its registered default."""
        if name in self.extra:
            return self.extra[name]
        return plugin_settings.default(self.provider, name)

    def require_key(self) -> str:
        if self.api_key is None or not self.api_key.reveal():
            # Said in words that fit Python, DuckDB and Excel too; the commands
            # that have --sandbox say so themselves (cli.py, tgcheck_duckdb.cli).
            raise NoApiKey(
                "no API key: set TGCHECK_API_KEY or run `tgcheck config set-key` (to try "
                "without a key: run `tgcheck sandbox` and set the TGCHECK_BASE_URL and "
                "TGCHECK_API_KEY it prints)"
            )
        return self.api_key.reveal()

    @property
    def simulated(self) -> bool:
        """Answers from a loopback server are the sandbox's: simulated, never real."""
        return is_loopback(self.base_url)

    @property
    def store_path(self) -> Path:
        # Simulated answers live in their own file so they can never be served
        # later as real ones.
        name = "tgcheck-sandbox.sqlite3" if self.simulated else "tgcheck.sqlite3"
        return self.home / name
