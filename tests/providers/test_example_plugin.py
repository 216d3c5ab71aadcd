"""The example provider plugin (examples/tgcheck-wscheck) installed as a user
installs it, found by its entry point, and its own test suite passing.

pip builds it offline (--no-index --no-build-isolation, with the test extra's
setuptools) into a temporary folder; the suite then runs in a fresh Python with
that folder on its path, so tgcheck loads the plugin from the installed
distribution's entry point, not from the source tree.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from paths import EXAMPLES

PLUGIN = EXAMPLES / "tgcheck-wscheck"
# The module's install only once, on one worker under pytest-xdist (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("example_plugin")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    # Built from a copy: pip writes build/ and *.egg-info beside the sources, and a
    # build folder left by an older checkout (or another run) must not take part.
    source = tmp_path_factory.mktemp("source") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-index", "--no-build-isolation", "--target", str(site),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return site


def _python(site, *args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TGCHECK_")}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, *args], env=environ, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_the_installed_plugin_is_found_by_its_entry_point(installed, tmp_path):
    code = ("from tgcheck import plugins; import tgcheck_wscheck as w; "
            "print(plugins.get_provider_factory('wscheck').__module__, w.__file__)")
    done = _python(installed, "-c", code, TGCHECK_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    module, path = done.stdout.split()
    assert module == "tgcheck_wscheck.provider"
    assert path.startswith(str(installed))  # the installed copy, not the source tree
    # Not asked for, it is not loaded: TGCHECK_LOAD_PLUGINS="" loads none.
    skipped = _python(installed, "-c", code, TGCHECK_HOME=str(tmp_path),
                      TGCHECK_LOAD_PLUGINS="")
    assert "unknown provider 'wscheck'" in skipped.stderr


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_the_example_plugins_own_suite_passes(installed):
    # Without Hypothesis's plugin (the example's suite draws nothing): it imports
    # Hypothesis at the session's end, and CPython 3.11.7 can fail compiling two
    # modules at once ("AST constructor recursion depth mismatch", fixed in 3.11.8)
    # if a thread a test left behind is importing too.
    done = _python(installed, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "no:hypothesispytest",
                   "-c", str(PLUGIN / "pyproject.toml"), "--rootdir", str(PLUGIN),
                   str(PLUGIN / "tests"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    # Every file collected: the sandbox's protocol, the provider, each face.
    assert passed and int(passed.group(1)) >= 40 and " failed" not in done.stdout
    assert " skipped" not in done.stdout


def test_the_example_leaves_the_wire_to_the_core():
    """Issue 21: a provider describes its vendor; the core's wire makes the calls.
    The example has no retry loop, no trace hook and no HTTP client of its own."""
    source = (PLUGIN / "src" / "tgcheck_wscheck" / "provider.py").read_text()
    # The wire through the plugin surface (tests/core/test_surfaces.py: nothing private).
    assert re.search(r"from tgcheck\.plugin import \([^)]*\bWire,", source)
    for own in ("while True", "Backoff", "bounded_http", '"trace"', "retry_after_seconds",
                "httpx.Client(", "ConnectBudget"):
        assert own not in source, own


def test_the_example_keeps_no_error_table_and_registers_in_one_call():
    """Its refusals are the wire's default error table (no status-code mapping of its
    own), and one register(name, factory, settings=, sandbox=, readers=) call brings
    the provider with all it has, instead of a hook for each."""
    source = (PLUGIN / "src" / "tgcheck_wscheck" / "provider.py").read_text()
    for own in ("status_code", "refuse=", "REFUSALS", "KeyRefused", "InsufficientBalance",
                "TaskTooLarge", "TaskLost", "BadRequest"):
        assert own not in source, own
    hooks = (PLUGIN / "src" / "tgcheck_wscheck" / "__init__.py").read_text()
    assert "def tgcheck_register_settings" not in hooks
    assert "def tgcheck_register_sandboxes" not in hooks
    assert "def tgcheck_register_readers" not in hooks
    assert re.search(r'register\("wscheck", WscheckProvider, sandbox=WsSandbox, '
                     r'readers=readers\(\), settings=\[', hooks)
