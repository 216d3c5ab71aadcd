"""The `tgcheck` command. It parses, displays and writes; the engine does the work.

One module per command group: `app` (the group, main()), `check`, `jobs` (the
journal: jobs, resume, export), `provider_calls` (status, balance), `cache`,
`sandbox`, `config` (config, plugins), `doctor`, `store` (store migrate); what
several share is in `options`, and what Ctrl-C leaves in `interrupt`. No module
here writes the store or the journal, or joins answers to inputs: they call the
engine's named operations (tests/core/test_cli_package.py).

Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

# Each command module registers its commands on the group when imported.
from . import cache, check, config, doctor, jobs, provider_calls, sandbox, store  # noqa: F401
from .app import FACE_PLUGINS, cli, main, plugin_manager
from .options import engine_for, make_settings, store_engine

__all__ = ["FACE_PLUGINS", "cli", "engine_for", "main", "make_settings", "plugin_manager",
           "store_engine"]
