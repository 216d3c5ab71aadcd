"""The plugin manager: built-in plugins are registered exactly like third-party ones."""

from __future__ import annotations

import importlib
import os
import sys

import pluggy

from . import hookspecs
from .errors import ConfigError, InputError
from .models import Reader, TaskType

DEFAULT_PLUGINS = (
    "tgcheck.default_plugins.ekycpro",
    "tgcheck.default_plugins.task_types",
    "tgcheck.default_plugins.readers",
    "tgcheck.default_plugins.log_events",
)

pm = pluggy.PluginManager("tgcheck")
pm.add_hookspecs(hookspecs)

for _plugin in DEFAULT_PLUGINS:
    pm.register(importlib.import_module(_plugin), _plugin)

# Third-party plugins come after the built-ins, so pluggy (last registered,
# first called) lets their readers and providers go first.
# TGCHECK_LOAD_PLUGINS="" loads none (tests, reproducible runs); a
# comma-separated list loads only those entry points.
_load = os.environ.get("TGCHECK_LOAD_PLUGINS")
if not hasattr(sys, "_called_from_test") and _load is None:
    pm.load_setuptools_entrypoints("tgcheck")
elif _load:
    for name in (n.strip() for n in _load.split(",")):
        if name:
            pm.load_setuptools_entrypoints("tgcheck", name=name)

# A misspelled hook implementation fails here, at start-up, not silently later.
pm.check_pending()


def _collect(hook) -> list:
    items: list = []
    hook(register=items.append)
    return items


def providers() -> dict:
    found: dict = {}

    def register(name, factory):
        found[name] = factory

    pm.hook.tgcheck_register_providers(register=register)
    return found


def get_provider_factory(name: str):
    found = providers()
    if name not in found:
        raise ConfigError(f"unknown provider {name!r}; installed: {', '.join(sorted(found))}")
    return found[name]


def task_types() -> dict[str, TaskType]:
    return {t.name: t for t in _collect(pm.hook.tgcheck_register_task_types)}


def get_task_type(name: str) -> TaskType:
    found = task_types()
    if name not in found:
        raise InputError(f"unknown task type {name!r}; known: {', '.join(sorted(found))}")
    return found[name]


def readers() -> list[Reader]:
    # In hook-call order: a third-party reader is asked before the built-ins.
    return _collect(pm.hook.tgcheck_register_readers)


def emit(event) -> None:
    pm.hook.tgcheck_job_event(event=event)
