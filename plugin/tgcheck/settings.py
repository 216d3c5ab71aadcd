"""Settings: what one check uses, its fields made from the one table
(tgcheck.settings_registry); read from the environment and the key file by
Settings.from_env, overridable per call (the CLI's flags do that)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

from . import config_file, plugin_settings, redact, settings_registry
from .errors import ConfigError, NoApiKey
from .loopback import is_loopback  # here too: settings.is_loopback, as before
from .plugin_settings import DEFAULT_PROVIDER
from .secret import Secret

# Most numbers in one task when neither TGCHECK_MAX_TASK_SIZE nor the provider says.
DEFAULT_MAX_TASK_SIZE = 100_000

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


def _annotation(setting: settings_registry.Setting) -> str:
    """The field's type, as help() and IDEs show it, from the setting's parser."""
    kind = _KINDS.get(setting.parse) or getattr(setting.parse, "__name__", "object")
    if setting.factory is not None and kind == "str":  # extra: what its factory makes
        kind = setting.factory.__name__
    return f"{kind} | None" if setting.default is None and setting.factory is None else kind


_KINDS = {settings_registry.number: "float", settings_registry.whole_number: "int",
          settings_registry.flag: "bool"}


def _fields_from_table(cls):
    """Make cls a frozen dataclass whose fields, in order, and defaults are the
    registry's CORE rows: the table is the one list of settings."""
    annotations = {}
    for setting in settings_registry.CORE:
        annotations[setting.name] = _annotation(setting)
        if setting.factory is not None:
            field = dataclasses.field(default_factory=setting.factory, repr=not setting.secret)
        else:
            field = dataclasses.field(default=setting.default, repr=not setting.secret)
        setattr(cls, setting.name, field)
    cls.__annotations__ = annotations
    return dataclasses.dataclass(frozen=True)(cls)


@_fields_from_table
class Settings:
    """What one check needs: the fields are tgcheck.settings_registry.CORE's
    settings (name, variable, default, bounds), e.g. Settings(poll_min=0.1).
    Settings.from_env() reads them from the environment."""

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
        if self.sandbox:  # the built-in sandbox started for this run: simulated
            object.__setattr__(self, "simulated", True)
        object.__setattr__(self, "extra", plugin_settings.Options(self.extra or {}))
        base_url = self.base_url or plugin_settings.default(self.provider, "base_url")
        if not base_url:
            from . import plugins  # a misspelled provider is "unknown", not "no URL"

            plugins.get_provider_factory(self.provider)
            raise ConfigError(f"the provider {self.provider!r} names no default base URL: "
                              "set TGCHECK_BASE_URL")
        object.__setattr__(self, "base_url", str(base_url).rstrip("/"))
        if self.max_task_size is None:
            # A provider knows its largest task: its Setting gives the default.
            largest = plugin_settings.default(self.provider, "max_task_size")
            object.__setattr__(self, "max_task_size",
                               DEFAULT_MAX_TASK_SIZE if largest is None else int(largest))
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
        # wait for. Refused here, for every face, by the table's bounds.
        for setting in settings_registry.CORE:
            setting.check(getattr(self, setting.name))
        if self.poll_min > self.poll_max:
            raise ConfigError("poll bounds must satisfy TGCHECK_POLL_MIN <= TGCHECK_POLL_MAX")

    @classmethod
    def from_env(cls, *, base_url_name: str = "base_url", **overrides) -> Settings:
        """The one reading of the settings: the CLI's overrides (None: not given),
        else the environment (the core's and the selected provider's settings,
        one table), else the config file's key, else the defaults.

        base_url_name: what an error calls a base_url given here (the CLI:
        --base-url); one from the environment is TGCHECK_BASE_URL."""
        env = os.environ
        provider = (overrides.get("provider")
                    or (settings_registry.read([settings_registry.FIELDS["provider"]], env)
                        .get("provider")) or DEFAULT_PROVIDER)
        values = settings_registry.read(plugin_settings.table(provider), env)
        if "api_key" not in values and "api_key" not in overrides:
            # The key `tgcheck config set-key` stored (mode 0600), for every face:
            # CLI, Python, Excel and DuckDB.
            key = config_file.stored_key()
            if key is not None:
                values["api_key"] = key
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
            # that have --sandbox say so themselves (tgcheck.cli, tgcheck_duckdb.cli).
            raise NoApiKey(
                "no API key: set TGCHECK_API_KEY or run `tgcheck config set-key` (to try "
                "without a key: run `tgcheck sandbox` and set the TGCHECK_BASE_URL, "
                "TGCHECK_API_KEY and TGCHECK_SANDBOX it prints)"
            )
        return self.api_key.reveal()

    @property
    def store_path(self) -> Path:
        # Simulated answers live in their own file so they can never be served
        # later as real ones.
        name = "tgcheck-sandbox.sqlite3" if self.simulated else "tgcheck.sqlite3"
        return self.home / name


def shown_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, where it comes from) of every setting in the table for
    settings' provider, for `tgcheck config`; secrets (the key, the store URL) are
    left out: `tgcheck config` says where they come from instead."""
    rows = []
    for setting in settings_registry.everything(
            plugin_settings.registered(settings.provider).values()):
        if setting.secret:
            continue
        if setting.process:
            value = settings_registry.value(setting.name)
        elif setting.name in settings_registry.FIELDS:
            value = getattr(settings, setting.name)
        else:
            value = settings.option(setting.name)
        if setting.name == "base_url":
            value = redact.url_without_userinfo(value)
        if isinstance(value, float):
            value = f"{value:g}"
        elif isinstance(value, tuple):
            value = ",".join(value)
        text = "(none)" if value is None else str(value)
        source = "environment" if settings_registry.given(setting) else "default"
        rows.append((setting.env, text, source))
    return rows
