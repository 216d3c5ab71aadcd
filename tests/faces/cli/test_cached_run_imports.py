"""A check whose answers are all stored makes no HTTP call, so its process never
imports httpx (0.05 s of a cached 200,000-number run, docs/performance.md), nor
the job driver and socket (a few ms more: the driver is imported by the first
job driven, the journal's host name read without socket)."""

import subprocess
import sys

import pytest

from conftest import numbers
from paths import ROOT
from processes import cli_env, cli_script, run

CHECK_AND_LIST_IMPORTS = cli_script(
    "", "print(*[m in sys.modules for m in ('httpx', 'tgcheck.engine.driver', 'socket')],\n"
        "      file=sys.stderr)\n")


@pytest.mark.slow
def test_a_cached_check_imports_no_httpx(sandbox, tmp_path):
    env = cli_env(sandbox, tmp_path)
    source = tmp_path / "numbers.txt"
    source.write_text("\n".join(numbers(20)) + "\n", encoding="utf-8")
    args = [str(source), "-o", str(tmp_path / "out.csv"), "--progress", "none", "-q"]

    def imports_httpx() -> str:
        done = subprocess.run([sys.executable, "-c", CHECK_AND_LIST_IMPORTS, "check", *args],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr.split()[-3:]

    assert imports_httpx() == ["True"] * 3  # the first run asks the provider
    assert imports_httpx() == ["False"] * 3  # the second finds every answer stored
    assert run("check", *args, env=env).returncode == 0


def test_httpx_comes_without_its_command_line_client():
    # The command opts in (main(); importing tgcheck changes nothing, see
    # tests/core/test_process_wide.py): httpx's own CLI (click, pygments, rich) is
    # skipped when tgcheck imports httpx; a later explicit import of it still
    # works, as does httpx itself.
    done = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "sys.argv = ['tgcheck', '--version']\n"
        "from tgcheck.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('httpx' in sys.modules)\n"
        "from tgcheck.default_plugins.ekycpro import EkycproProvider\n"
        "print(*[m for m in ('httpx._main', 'pygments', 'rich', 'rich.console')"
        " if m in sys.modules] or ['none'])\n"
        "import httpx, httpx._main\n"
        "print(httpx._main.main.name, httpx.URL('http://127.0.0.1:9/x').path)\n")],
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split()[-4:] == ["False", "none", "main", "/x"]

