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
from collections.abc import Callable


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


def registered(provider: str) -> dict[str, Setting]:
    """name -> Setting, of the plugins' settings that apply to this provider."""
    from . import plugins  # at call time: plugins load only when settings are made

    found: dict[str, Setting] = {}
    for setting in plugins.registered_settings():
        if setting.applies_to(provider):
            # Hook-call order: a third-party plugin (called first) wins over a built-in.
            found.setdefault(setting.name, setting)
    return found
