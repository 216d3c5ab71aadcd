"""The sandbox a face starts for one run (`--sandbox`): the selected provider's own
(`tgcheck_register_sandboxes`). Its tasks are kept under TGCHECK_HOME, so the next
run's sandbox (on another port) still knows them, and its jobs are keyed by "the
sandbox" rather than its port: a re-run attaches to an open job and `tgcheck
resume --sandbox` finishes it.
"""

from __future__ import annotations

from pathlib import Path

from .. import plugins, sandbox_contract
from ..errors import ConfigError
from ..settings import Settings

# A loopback URL for settings that make no call; simulated=True selects the
# sandbox's own store (Settings.store_path).
SANDBOX_STORE_URL = "http://127.0.0.1"


def _sandbox_env_settings(**overrides) -> Settings:
    # No key is read: the sandbox has its own.
    return Settings.from_env(api_key=None, base_url=SANDBOX_STORE_URL, simulated=True,
                             **overrides)


def sandbox_home() -> Path:
    return _sandbox_env_settings().home


def sandbox_factory(provider: str | None = None):
    """factory(**options) -> an unstarted sandbox of this provider (None: the one the
    settings select, TGCHECK_PROVIDER); ConfigError when it brings none."""
    name = provider or _sandbox_env_settings().provider
    found = plugins.sandbox_plugins()
    if name not in found:
        raise ConfigError(f"the provider {name!r} brings no sandbox; providers with one: "
                          f"{', '.join(sorted(found)) or 'none'}")
    plugin, factory = found[name]
    # Each server it makes is checked against the contract before it is used.
    return sandbox_contract.checked(plugin, name, factory)


def embedded_sandbox(provider: str | None = None, **options):
    """A sandbox of this provider (None: the selected one) whose tasks outlive it,
    under TGCHECK_HOME/sandbox-tasks/<provider>."""
    name = provider or _sandbox_env_settings().provider
    factory = sandbox_factory(name)
    return factory(state_dir=sandbox_home() / "sandbox-tasks" / name, **options)


def sandbox_settings(sb, **overrides) -> Settings:
    """Settings aimed at an embedded sandbox (its key, its URL, its job identity)."""
    return Settings.from_env(api_key=sb.api_key, base_url=sb.url, sandbox=True, **overrides)
