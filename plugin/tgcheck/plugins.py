"""The plugin manager: built-in plugins are registered exactly like third-party ones."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading

import pluggy

from . import hookspecs, sandbox_contract, settings_registry
from .errors import ConfigError, InputError
from .models import Reader, TaskType
from .settings_registry import DEFAULT_PROVIDER

DEFAULT_PLUGINS = (
    "tgcheck.default_plugins.ekycpro",
    "tgcheck.default_plugins.task_types",
    "tgcheck.default_plugins.log_events",
    "tgcheck.default_plugins.output_formats",
)


_pm = pluggy.PluginManager("tgcheck")
_pm.add_hookspecs(hookspecs)

for _plugin in DEFAULT_PLUGINS:
    _pm.register(importlib.import_module(_plugin), _plugin)

_loaded = False
_load_lock = threading.Lock()


def load() -> pluggy.PluginManager:
    """The plugin manager, with the installed plugins loaded on first use.

    Not at import: an installed plugin imports tgcheck (`from tgcheck import
    hookimpl`), which is only whole once its own import has finished.
    """
    global _loaded
    with _load_lock:
        if not _loaded:
            # Third-party plugins come after the built-ins, so pluggy (last
            # registered, first called) lets their readers and providers go first.
            # TGCHECK_LOAD_PLUGINS="" loads none (tests, reproducible runs); a
            # comma-separated list loads only those entry points.
            wanted = settings_registry.value("load_plugins")
            if not hasattr(sys, "_called_from_test") and wanted is None:
                if _may_declare("tgcheck"):
                    _pm.load_setuptools_entrypoints("tgcheck")
            else:
                for name in wanted or ():
                    _pm.load_setuptools_entrypoints("tgcheck", name=name)
            # A misspelled hook implementation fails here, on first use, not
            # silently later.
            try:
                _pm.check_pending()
            except pluggy.PluginValidationError as e:
                name = _pm.get_name(e.plugin)
                raise ConfigError(f"the installed plugin {name!r} is broken: {e}; fix or "
                                  "uninstall it (TGCHECK_LOAD_PLUGINS='' skips installed "
                                  "plugins)") from None
            _loaded = True
    return _pm


# A line that opens an entry point file's section of this name: more lenient than
# importlib.metadata's reading (spaces), never stricter.
_SECTION = r"(?m)^[ \t]*\[[ \t]*{}[ \t]*\][ \t]*$"


def _may_declare(group: str) -> bool:
    """Whether an installed distribution may declare entry points in group: the
    entry_points.txt of each *.dist-info and *.egg-info folder on sys.path (and
    of an .egg folder's EGG-INFO) read for that section, before
    importlib.metadata is imported to load them (it and the email, csv and
    zipfile modules it imports cost about 0.008 s of a run's start, for no
    plugin at all in the usual install). True whenever this cannot tell: a
    sys.path entry that is a file (a zip), a finder on sys.meta_path that lists
    distributions of its own."""
    import os
    import re
    from importlib.machinery import PathFinder

    if any(getattr(finder, "find_distributions", None) is not None
           and finder is not PathFinder for finder in sys.meta_path):
        return True
    section = re.compile(_SECTION.format(re.escape(group)))
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return True  # a zip or an egg file: importlib.metadata reads inside
        except OSError:
            continue  # no such folder: nothing installed there
        egg = os.path.basename(os.path.normpath(folder)).lower().endswith(".egg")
        for name in names:
            low = name.lower()
            # Where importlib.metadata looks: *.dist-info, *.egg-info, and an
            # .egg folder's EGG-INFO.
            if not (low.endswith((".dist-info", ".egg-info")) or egg and low == "egg-info"):
                continue
            try:
                # Text mode: universal newlines, as importlib.metadata reads (a
                # CRLF file's section line ends in "\r" otherwise).
                with open(os.path.join(folder, name, "entry_points.txt"),
                          encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue  # none (or an .egg-info file): no entry points
            if section.search(text):
                return True
    return False


def __getattr__(name: str):
    if name == "pm":  # `plugins.pm`: always the loaded manager
        return load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _collect(hook_name: str) -> list:
    items: list = []
    getattr(load().hook, hook_name)(register=items.append)
    return items


def _provider_plugins() -> dict:
    """provider name -> (plugin name, factory, its settings, sandbox, readers), as
    tgcheck_register_providers registered them, in hook-call order: of two of one
    name, the one registered last wins, as ever."""
    found: dict = {}
    for impl in reversed(load().hook.tgcheck_register_providers.get_hookimpls()):
        def register(name, factory, *, settings=(), sandbox=None, readers=(),
                     plugin=impl.plugin_name):
            # One call brings all a provider has: its settings apply while it is
            # selected, its sandbox is what --sandbox starts, its readers read its files.
            found[name] = (plugin, factory, tuple(
                s if s.provider is not None else dataclasses.replace(s, provider=name)
                for s in settings), sandbox, tuple(readers))

        impl.function(register=register)
    return found


def providers() -> dict:
    """provider name -> its factory (factory(settings) -> a Provider)."""
    return {name: entry[1] for name, entry in _provider_plugins().items()}


def get_provider_factory(name: str):
    found = providers()
    if name not in found:
        raise ConfigError(f"unknown provider {name!r}; installed: {', '.join(sorted(found))}")
    return found[name]


def _selected_provider(provider: str | None) -> str:
    """provider, else TGCHECK_PROVIDER's, else the default provider."""
    if provider:
        return provider
    return settings_registry.read([settings_registry.FIELDS["provider"]]).get(
        "provider") or DEFAULT_PROVIDER


def registered_task_types() -> dict[str, TaskType]:
    """Every registered task type by its qualified name, "provider:name" (just the
    name for one registered without a provider); of two of one qualified name,
    the one registered last wins."""
    return {t.qualified_name: t
            for t in _collect("tgcheck_register_task_types")}


def task_types(provider: str | None = None) -> dict[str, TaskType]:
    """bare name -> task type, as the provider (None: the selected one,
    TGCHECK_PROVIDER, else ekycpro) reads a bare name: its own first, then one
    registered without a provider, then another provider's (the last registered)."""
    provider = _selected_provider(provider)
    ranked: dict[str, tuple[int, TaskType]] = {}
    for t in _collect("tgcheck_register_task_types"):
        rank = 2 if t.provider == provider else 1 if t.provider is None else 0
        if t.name not in ranked or rank >= ranked[t.name][0]:
            ranked[t.name] = (rank, t)
    return {name: t for name, (_, t) in ranked.items()}


def get_task_type(name: str, provider: str | None = None) -> TaskType:
    """A task type by its bare name, as provider reads it (task_types), or by its
    qualified name "provider:name" (e.g. wscheck:ws, whichever provider is selected)."""
    if ":" in name:
        found = registered_task_types()
        if name in found:
            return found[name]
    else:
        found = task_types(provider)
        if name in found:
            return found[name]
    known = sorted({*task_types(provider), *registered_task_types()})
    raise InputError(f"unknown task type {name!r}; known: {', '.join(known)}")


def readers(provider=None) -> list[Reader]:
    """The readers asked for a provider's result file, in order: the plugins'
    (tgcheck_register_readers, in hook-call order), then the provider's own
    (Provider.readers). provider: a Provider or its factory, or a name (None: the
    default provider)."""
    if provider is None or isinstance(provider, str):
        provider = get_provider_factory(provider or DEFAULT_PROVIDER)
    entry = _provider_plugins().get(getattr(provider, "name", None) or "")
    registered = entry[4] if entry is not None else ()
    return [*_collect("tgcheck_register_readers"), *registered,
            *getattr(provider, "readers", ())]


def registered_settings() -> list:
    """Every plugin's Setting (tgcheck.plugin_settings), third-party ones first:
    tgcheck_register_settings', then those registered with a provider."""
    return [*_collect("tgcheck_register_settings"),
            *(s for entry in _provider_plugins().values() for s in entry[2])]


def sandbox_plugins() -> dict:
    """provider name -> (the plugin's name, its sandbox factory), each factory
    checked against the sandbox contract (tgcheck.sandbox_contract): one that breaks
    it is a ConfigError naming its plugin."""
    found: dict = {}
    # Called one plugin at a time, in pluggy's order (third-party ones first),
    # so that a broken factory is told with its plugin's name.
    for impl in reversed(load().hook.tgcheck_register_sandboxes.get_hookimpls()):
        def register(name, factory, plugin=impl.plugin_name):
            if name not in found:  # the first registered (a third-party plugin's) wins
                sandbox_contract.check_factory(plugin, name, factory)
                found[name] = (plugin, factory)

        impl.function(register=register)
    # A provider registered with its sandbox (tgcheck_register_providers' sandbox=):
    # after the sandbox hook's, checked alike.
    for name, (plugin, _factory, _settings, sandbox, _readers) in _provider_plugins().items():
        if sandbox is not None and name not in found:
            sandbox_contract.check_factory(plugin, name, sandbox)
            found[name] = (plugin, sandbox)
    return found


def sandboxes() -> dict:
    """provider name -> its sandbox factory (factory(**options) -> a server)."""
    return {name: factory for name, (_, factory) in sandbox_plugins().items()}


def emit(event) -> None:
    load().hook.tgcheck_job_event(event=event)
