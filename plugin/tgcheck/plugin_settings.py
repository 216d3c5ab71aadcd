"""Settings a plugin adds (`tgcheck_register_settings`): a provider's own options.

The core's settings (`tgcheck.settings.Settings`) hold what every provider
shares: the key, the base URL, the store, the polling bounds. What only one
provider knows (its default base URL, an option of its API) it registers here:

    @hookimpl
    def tgcheck_register_settings(register):
        register(Setting("base_url", "TGCHECK_BASE_URL", "https://api.example.com",
                         provider="example"))
        register(Setting("example_region", "TGCHECK_EXAMPLE_REGION", "eu",
                         provider="example", help="the API's data region"))

A Setting named like a field of Settings (base_url) gives that field its default
for its provider; any other name is read into `Settings.extra` and read back
with `settings.option(name)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from .errors import ConfigError

# The provider a Settings selects when nothing says otherwise (TGCHECK_PROVIDER).
DEFAULT_PROVIDER = "ekycpro"


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its name, the environment variable users set, its default.

    parse turns the variable's text into the value (ValueError: the user is told
    the variable's name and the text). provider: the setting applies only while
    that provider is selected (None: always).
    """

    name: str
    env: str
    default: object = None
    parse: Callable[[str], object] = str
    provider: str | None = None
    help: str = ""

    def applies_to(self, provider: str) -> bool:
        return self.provider is None or self.provider == provider

    def read(self, raw: str) -> object:
        """The value of the environment variable's text, or a ConfigError naming it."""
        try:
            return self.parse(raw.strip())
        except ValueError as e:
            raise ConfigError(f"{self.env} is not valid ({e}): {raw[:80]!r}") from None


def registered(provider: str) -> dict[str, Setting]:
    """name -> Setting, of the plugins' settings that apply to this provider."""
    from . import plugins  # at call time: plugins load only when settings are made

    found: dict[str, Setting] = {}
    for setting in plugins.registered_settings():
        if setting.applies_to(provider):
            # Hook-call order: a third-party plugin (called first) wins over a built-in.
            found.setdefault(setting.name, setting)
    return found


class Options(dict):
    """Settings.extra: a dict that hashes (Settings are cached by value), by its items."""

    def __hash__(self) -> int:
        return hash(frozenset(self.items()))


def default(provider: str, name: str) -> object:
    """The registered default of a setting for this provider (None: none registered)."""
    setting = registered(provider).get(name)
    return None if setting is None else setting.default


def from_env(provider: str, env: Mapping[str, str], fields: set[str],
             core: Mapping[str, object]) -> dict:
    """Settings keywords from the plugins' environment variables: a field of
    Settings (fields) the core has not read (core), and the rest under "extra"."""
    values: dict = {}
    extra: dict = {}
    for setting in registered(provider).values():
        raw = env.get(setting.env)
        if raw is None or raw == "":
            continue
        if setting.name in fields:
            if setting.name not in core:
                values[setting.name] = setting.read(raw)
        else:
            extra[setting.name] = setting.read(raw)
    if extra:
        values["extra"] = extra
    return values
