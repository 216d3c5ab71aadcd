"""The sandbox a face starts for one run (`--sandbox`): its tasks are kept under
TGCHECK_HOME, so the next run's sandbox (on another port) still knows them, and
its jobs are keyed by "the sandbox" rather than its port: a re-run attaches to an
open job and `tgcheck resume --sandbox` finishes it.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from .server import Sandbox

# Any loopback URL selects the sandbox's own store (Settings.store_path).
SANDBOX_STORE_URL = "http://127.0.0.1"


def sandbox_home() -> Path:
    # No key is read: the sandbox has its own.
    return Settings.from_env(api_key=None, base_url=SANDBOX_STORE_URL).home


def embedded_sandbox(**options) -> Sandbox:
    """A sandbox whose tasks outlive it, under TGCHECK_HOME/sandbox-tasks."""
    return Sandbox(state_dir=sandbox_home() / "sandbox-tasks", **options)


def sandbox_settings(sb: Sandbox, **overrides) -> Settings:
    """Settings aimed at an embedded sandbox (its key, its URL, its job identity)."""
    return Settings.from_env(api_key=sb.api_key, base_url=sb.url, sandbox=True, **overrides)
