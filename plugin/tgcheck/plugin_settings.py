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

# The Setting type and the core's table live in tgcheck.settings_registry; the
# names stay importable from here, where plugin authors found them.
from .settings_registry import CORE, DEFAULT_PROVIDER, Options, Setting

__all__ = ["DEFAULT_PROVIDER", "Options", "Setting", "default", "registered", "table"]


def registered(provider: str) -> dict[str, Setting]:
    """name -> Setting, of the plugins' settings that apply to this provider."""
    from . import plugins  # at call time: plugins load only when settings are made

    found: dict[str, Setting] = {}
    for setting in plugins.registered_settings():
        if setting.applies_to(provider):
            # Hook-call order: a third-party plugin (called first) wins over a built-in.
            found.setdefault(setting.name, setting)
    return found


def table(provider: str) -> list[Setting]:
    """The one table for this provider: the core's settings, then its plugins'."""
    return [*CORE, *registered(provider).values()]


def default(provider: str, name: str) -> object:
    """The registered default of a setting for this provider (None: none registered)."""
    setting = registered(provider).get(name)
    return None if setting is None else setting.default

