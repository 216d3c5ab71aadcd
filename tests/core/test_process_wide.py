"""Importing tgcheck changes nothing process-wide (docs/architecture.md,
"Process-wide state"): each package, and every module in it, imported in a fresh
interpreter leaves signal handlers, the collector, DuckDB's connection class,
sys.modules, hooks and warnings as they were. What a face changes it changes
when asked: the `tgcheck` command's main(), tgcheck_duckdb.register()."""

import json
import subprocess
import sys

import pytest

# Snapshot, import, snapshot again, print what differs. The third-party modules
# the faces import are imported before the first snapshot (numpy adds warning
# filters of its own, polars, through xlwings, a variable for its allocator),
# except httpx: how tgcheck imports it is under test.
_PROBE = r'''
import csv, gc, importlib, json, logging, os, pkgutil, signal, socket, sys, threading
import warnings

import duckdb, numpy, pyarrow  # noqa: F401
for name in ("polars", "xlwings"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass

def snapshot():
    handlers = {}
    for s in signal.valid_signals():
        try:
            handlers[int(s)] = signal.getsignal(s)
        except (ValueError, OSError):
            pass
    return {
        "signal handlers": handlers,
        "gc": (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()),
        "DuckDBPyConnection": dict(vars(duckdb.DuckDBPyConnection)),
        "modules": dict(sys.modules),
        "hooks": (sys.excepthook, threading.excepthook, sys.unraisablehook,
                  sys.displayhook, sys.gettrace(), sys.getprofile()),
        "import machinery": (list(sys.meta_path), list(sys.path_hooks)),
        "warnings": list(warnings.filters),
        "root logger": (list(logging.getLogger().handlers), logging.getLogger().level,
                        logging.getLoggerClass(), logging.lastResort),
        "limits": (socket.getdefaulttimeout(), csv.field_size_limit(),
                   sys.getrecursionlimit(), sys.getswitchinterval()),
        "environment": dict(os.environ),
    }

def differs(a, b):
    if isinstance(a, dict):
        return sorted(str(k) for k in a.keys() | b.keys() if a.get(k) is not b.get(k)
                      and a.get(k) != b.get(k))
    return [] if a == b else [f"{a!r} -> {b!r}"]

PACKAGES = sys.argv[1].split(",")
before = snapshot()
imported = []
for package in PACKAGES:
    module = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), package + "."):
        if info.name.endswith(".__main__"):  # runs the command
            continue
        importlib.import_module(info.name)
        imported.append(info.name)
after = snapshot()
changed = {}
for what in before:
    if what == "modules":  # new modules are expected; none removed, replaced or blocked
        gone = [m for m, v in before[what].items() if after[what].get(m) is not v]
        blocked = [m for m, v in after[what].items() if v is None and m not in before[what]]
        found = gone + [f"{m} (None)" for m in blocked]
    else:
        found = differs(before[what], after[what])
    if found:
        changed[what] = found
print(json.dumps({"imported": imported, "changed": changed,
                  "httpx client": "httpx._main" in sys.modules if "httpx" in sys.modules
                  else None}))
'''


def _probe(packages: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, packages], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _httpx_alone() -> bool:
    """Whether a plain `import httpx` imports its command-line client here."""
    done = subprocess.run([sys.executable, "-c",
                           "import sys, httpx; print('httpx._main' in sys.modules)"],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip() == "True"


@pytest.mark.parametrize("package", ["tgcheck", "tgcheck.plugin", "tgcheck_duckdb",
                                     "tgcheck_udfs"])
def test_importing_a_package_and_all_its_modules_changes_nothing_process_wide(package):
    found = _probe(package)
    assert len(found["imported"]) > (1 if package != "tgcheck.plugin" else 0)
    assert found["changed"] == {}
    if found["httpx client"] is not None:  # httpx as the caller would import it
        assert found["httpx client"] == _httpx_alone()


def test_the_library_imports_httpx_as_it_is():
    found = _probe("tgcheck.wire,tgcheck.default_plugins.ekycpro.client")
    assert found["changed"] == {}
    assert found["httpx client"] == _httpx_alone()


def test_the_cli_opts_in_to_httpx_without_its_client():
    # The command owns its process: main() leaves out httpx's client (0.05 s of CPU
    # a start, docs/performance.md), for httpx imported after it began.
    code = ("import sys\n"
            "sys.argv = ['tgcheck', '--version']\n"
            "from tgcheck.cli import main\n"
            "try:\n"
            "    main()\n"
            "except SystemExit:\n"
            "    pass\n"
            "from tgcheck import wire\n"
            "import httpx\n"
            "print('httpx._main' in sys.modules, callable(httpx.main))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split()[-2:] == ["False", "True"]
