"""docs/plugins.md: every Python example runs as it is, and prints what the page
says it prints (the `# ` lines that end a block)."""

import os
import re
import subprocess
import sys

import pytest

from paths import ROOT

PAGE = ROOT / "docs" / "plugins.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)


def expected_output(code: str) -> list[str]:
    lines = code.rstrip("\n").splitlines()
    tail = []
    while lines and lines[-1].startswith("# "):
        tail.insert(0, lines.pop()[2:])
    return tail


def test_the_page_has_an_example_per_hook():
    hooks = ("tgcheck_register_providers", "tgcheck_register_task_types",
             "tgcheck_register_readers", "tgcheck_register_settings",
             "tgcheck_register_sandboxes", "tgcheck_register_commands", "tgcheck_job_event",
             "tgcheck_register_output_formats")
    assert all(any(f"def {hook}(" in code for code in BLOCKS) for hook in hooks)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_example_runs_and_prints_what_the_page_says(code, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGCHECK_")}
    env.update(TGCHECK_HOME=str(tmp_path), TGCHECK_LOAD_PLUGINS="")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    want = expected_output(code)
    if want:
        assert done.stdout.splitlines() == want
