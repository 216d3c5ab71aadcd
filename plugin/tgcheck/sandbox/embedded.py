"""The sandbox a face starts for one run (`--sandbox`): its tasks are kept under
TGCHECK_HOME, so the next run's sandbox (on another port) still knows them, and
its jobs are keyed by "the sandbox" rather than its port: a re-run attaches to an
open job and `tgcheck resume --sandbox` finishes it.
"""

from __future__ import annotations

from pathlib import Path

from .. import plugins
from ..errors import ConfigError
from ..settings import Settings
from .server import Sandbox

# Any loopback URL selects the sandbox's own store (Settings.store_path).
SANDBOX_STORE_URL = "http://127.0.0.1"


def sandbox_home() -> Path:
    # No key is read: the sandbox has its own.
    return Settings.from_env(api_key=None, base_url=SANDBOX_STORE_URL).home


def embedded_sandbox(provider: str | None = None, **options):
    """A sandbox whose tasks outlive it, under TGCHECK_HOME/sandbox-tasks: the
    provider's own (`tgcheck_register_sandboxes`; None: TGCHECK_PROVIDER), or
    ekycpro's built-in one."""
    settings = Settings.from_env(api_key=None, base_url=SANDBOX_STORE_URL, provider=provider)
    plugins.get_provider_factory(settings.provider)  # a misspelled one: "unknown provider"
    factory = plugins.sandboxes().get(settings.provider)
    if factory is None and settings.provider != "ekycpro":
        raise ConfigError(f"the provider {settings.provider!r} brings no sandbox")
    if factory is None:
        return Sandbox(state_dir=settings.home / "sandbox-tasks", **options)
    # Each provider's tasks in a folder of their own: one's ids mean nothing to another.
    return factory(state_dir=settings.home / f"sandbox-tasks-{settings.provider}", **options)


def sandbox_settings(sb: Sandbox, **overrides) -> Settings:
    """Settings aimed at an embedded sandbox (its key, its URL, its job identity)."""
    return Settings.from_env(api_key=sb.api_key, base_url=sb.url, sandbox=True, **overrides)
