"""tgcheck as a user runs it: a child process run to its end, or started, read
until a line, and stopped with Ctrl-C (SIGINT) as a user stops it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

from conftest import child_env
from paths import ROOT


def cli_script(before: str, after: str) -> str:
    """A `python -c` script that runs `tgcheck ARGS...` in its own process (the
    script's argv), with code before (e.g. a spy installed) and after it (e.g.
    what the spy saw, printed); a failing command fails the script."""
    return ("import sys\n" + before + "from tgcheck.cli import main\n"
            "sys.argv = ['tgcheck', *sys.argv[1:]]\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n" + after)


def run(*args: str, env: dict | None = None, stdin: str | None = None, cwd=ROOT,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`tgcheck ARGS...` run to its end; its output as text."""
    return subprocess.run([sys.executable, "-m", "tgcheck", *args], env=env, cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def started(*args: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """`tgcheck ARGS...` running, its stdout and stderr readable as text lines.
    Killed on the way out, whatever happened inside: no test leaves one behind."""
    with subprocess.Popen([sys.executable, "-m", "tgcheck", *args], env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            yield proc
        finally:
            proc.kill()


def read_until(proc: subprocess.Popen, text: str, count: int = 1) -> list[str]:
    """The stderr lines read up to the count-th line holding text; the process
    ending first fails the test with what it said."""
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if sum(text in s for s in seen) >= count:
            return seen
    raise AssertionError(f"{text!r} never came (x{count}): " + "".join(seen))


def finished(proc: subprocess.Popen, timeout: float = 15) -> str:
    """Wait for the process to end; the rest of its stderr."""
    proc.wait(timeout=timeout)
    return proc.stderr.read()


def interrupt(proc: subprocess.Popen, timeout: float = 15) -> str:
    """Ctrl-C, then wait for the process to end; the rest of its stderr."""
    proc.send_signal(signal.SIGINT)
    return finished(proc, timeout)


def journal(env: dict, *flags: str) -> list[dict]:
    """The journal as `tgcheck jobs --all --json` prints it, one dict a job."""
    result = run("jobs", "--all", "--json", *flags, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def rows(text: str) -> list[dict]:
    """CSV output (what `tgcheck check` prints by default) as one dict a row."""
    return list(csv.DictReader(io.StringIO(text)))


def cli_env(sandbox, tmp_path) -> dict:
    """The environment of a CLI run against the sandbox, with its own store."""
    return child_env(sandbox, tmp_path / "home")


def keyless_env(tmp_path, **extra: str) -> dict:
    """The environment of a tgcheck child with no key and no base URL (a
    `--sandbox` run, or one that must say the key is missing), its own store and
    its own config folder."""
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_LOAD_PLUGINS="",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    for name in ("TGCHECK_API_KEY", "TGCHECK_BASE_URL"):
        env.pop(name, None)
    env.update(extra)
    return env
