"""Two public surfaces, the rest private (docs/architecture.md, "Two surfaces"):
`tgcheck` for users, `tgcheck.plugin` for provider and plugin authors. What the
docs and the examples show is what users copy, so their code imports only from
those two and the documented face packages (tgcheck_duckdb, tgcheck_udfs), and
the example plugin's from its own package."""

from __future__ import annotations

import importlib
import re

import pytest

from paths import EXAMPLES, ROOT

# Face packages imported whole (`import tgcheck_duckdb`); names from them must be
# in their __all__ (tgcheck_udfs' are its Excel functions, known without xlwings).
SURFACES = ("tgcheck", "tgcheck.plugin", "tgcheck_duckdb")
FACES = ("tgcheck_udfs",)
EXAMPLE_PACKAGE = "tgcheck_wscheck"

_FROM = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)", re.M)


def _code(path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":  # the fenced blocks only: prose may name private modules
        return "\n".join(re.findall(r"```[^\n]*\n(.*?)```", text, re.DOTALL))
    return text


def imports(code: str) -> list[tuple[str, str | None]]:
    """(module, name) of every tgcheck import in code; name None for `import module`."""
    found: list[tuple[str, str | None]] = []
    for module, names in _FROM.findall(code):
        names = re.sub(r"#[^\n]*", "", names).strip("()")
        for name in names.split(","):
            name = name.split(" as ")[0].strip()
            if name and module.startswith("tgcheck"):
                found.append((module, name))
    for modules in _IMPORT.findall(code):
        for module in modules.split(","):
            module = module.strip()
            if module.startswith("tgcheck"):
                found.append((module, None))
    return found


def _public(module: str) -> set[str]:
    if module == "tgcheck_udfs":
        return set(importlib.import_module(module)._SERVER)
    return set(importlib.import_module(module).__all__)


def private_imports(code: str, own: str | None = None) -> list[str]:
    bad = []
    for module, name in imports(code):
        if own and (module == own or module.startswith(own + ".")):
            continue  # the example plugin's own modules
        if name is None:
            if module not in SURFACES + FACES:
                bad.append(f"import {module}")
        elif module not in SURFACES + FACES or name not in _public(module):
            bad.append(f"from {module} import {name}")
    return bad


PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
EXAMPLE_FILES = sorted(p for p in EXAMPLES.rglob("*.py") if "build" not in p.parts)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_docs_import_only_from_the_public_surfaces(page):
    # The plugin tutorial builds on the example plugin: its package is public too.
    assert private_imports(_code(page), own=EXAMPLE_PACKAGE) == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_the_examples_import_only_from_the_public_surfaces(path):
    assert private_imports(_code(path), own=EXAMPLE_PACKAGE) == []


def test_the_lists_looked_at_are_not_empty():
    assert any(p.name == "plugins.md" for p in PAGES)
    assert any(p.name == "provider.py" for p in EXAMPLE_FILES)
    assert len(imports(_code(ROOT / "docs" / "plugins.md"))) >= 10


def test_the_check_finds_a_private_import():
    # The tests above pass vacuously if the parser misses imports.
    code = ("from tgcheck.plugin import (\n    Provider,  # the contract\n    Wire,\n)\n"
            "import tgcheck, tgcheck.engine\n"
            "from tgcheck import Engine, store\n"
            "from tgcheck.wire import Call\n"
            "    from tgcheck_duckdb import register\n")
    assert private_imports(code) == ["from tgcheck import store",
                                     "from tgcheck.wire import Call",
                                     "import tgcheck.engine"]


def test_the_two_surfaces_name_only_what_they_have():
    for module in ("tgcheck", "tgcheck.plugin"):
        mod = importlib.import_module(module)
        assert [n for n in mod.__all__ if not hasattr(mod, n)] == [], module
        assert len(set(mod.__all__)) == len(mod.__all__), module
