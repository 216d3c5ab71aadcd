"""docs/plugins.md's tutorial is the tested JSON batch provider, line for line, and
the page uses only the public surface, tgcheck.plugin, naming all of it."""

import re

import tgcheck.plugin
from paths import ROOT

PAGE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, re.DOTALL)


def test_the_tutorial_is_the_tested_provider():
    provider = (ROOT / "tests" / "json_batch_provider.py").read_text(encoding="utf-8")
    assert provider in BLOCKS


def test_the_examples_import_only_from_tgcheck_plugin():
    imports = {line for code in BLOCKS for line in code.splitlines()
               if re.match(r"(from|import) tgcheck\b", line)}
    assert imports and all(line.startswith("from tgcheck.plugin import") for line in imports)


def test_every_public_name_is_documented():
    missing = [name for name in tgcheck.plugin.__all__ if f"`{name}" not in PAGE]
    assert not missing
