"""Secret lives in tgcheck.secret: settings.py and config_file.py both use it and
neither imports the other's module for it (no import cycle between them)."""

import ast
from pathlib import Path

import tgcheck.config_file
import tgcheck.settings
from tgcheck.secret import Secret


def _imports(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
            found.update(f"{node.module or ''}.{a.name}".lstrip(".") for a in node.names)
    return found


def test_config_file_does_not_import_settings():
    assert not {"settings", "tgcheck.settings"} & _imports(tgcheck.config_file)
    assert tgcheck.settings.Secret is Secret  # still importable from settings


def test_a_secret_hides_itself():
    key = Secret("abcdef-123456")
    assert repr(key) == "Secret('********')" and f"{key}" == "********"
    assert key.reveal() == "abcdef-123456"
