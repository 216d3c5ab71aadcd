"""Every install line in the README and docs works from the checkout (tgcheck is not
on PyPI), names extras that exist, and CI proves each face installs alone."""

from __future__ import annotations

import re
import tomllib

from paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PIP_LINE = re.compile(r"pip install[^\n`]*")


def _extras() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


def test_every_documented_install_is_from_the_checkout():
    extras = _extras()
    found = []
    for doc in DOCS:
        for line in PIP_LINE.findall(doc.read_text()):
            found.append(line)
            # "pip install tgcheck" / "tgcheck[duckdb]" asks the package index,
            # which has no tgcheck: "No matching distribution".
            assert "tgcheck[" not in line and not re.search(r"install\s+tgcheck\b", line), \
                f"{doc.name}: {line}"
            assert re.search(r'install -e "?(\.|\S*/tgcheck)', line) or "--upgrade pip" in line, \
                f"{doc.name}: {line}"
            for extra in re.findall(r'\.\[(\w+)\]', line):
                assert extra in extras, f"{doc.name}: no extra {extra!r} in pyproject.toml"
    assert any("[duckdb]" in line for line in found)
    assert any("[excel]" in line for line in found)


def test_the_duckdb_extra_brings_numpy():
    # DuckDB's create_function needs numpy and does not install it; the test
    # extra (pandas) used to hide that.
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["duckdb"]
    assert any(re.match(r"numpy\b", d) for d in deps)


def test_ci_smoke_tests_each_face_alone_before_the_suite():
    run = (ROOT / ".ci" / "run").read_text()
    smoke = (ROOT / ".ci" / "smoke").read_text()
    assert run.index(".ci/smoke") < run.index("python -m pytest")
    for face in ("core", "duckdb", "excel"):
        assert face in smoke
    assert "python -m venv" in smoke
    assert "telegram_enrich" in smoke and "tg_check" in smoke and "--sandbox" in smoke


def test_the_example_plugin_installs_after_tgcheck_from_the_checkout_and_ci_proves_it():
    """Issue 22: `pip install -e examples/tgcheck-wscheck` alone fails in a clean venv
    (No matching distribution found for tgcheck>=0.1). Its README installs tgcheck
    from the checkout first, and .ci/smoke runs those same lines, then a check."""
    readme = (ROOT / "examples" / "tgcheck-wscheck" / "README.md").read_text()
    lines = PIP_LINE.findall(readme)
    first = lines.index("pip install -e .")
    assert lines[first + 1] == "pip install -e examples/tgcheck-wscheck", lines
    assert all(i > first for i, line in enumerate(lines) if "tgcheck-wscheck" in line)
    smoke = (ROOT / ".ci" / "smoke").read_text()
    core = smoke[smoke.index("        core)"):smoke.index("        duckdb)")]
    assert "pip install -q --disable-pip-version-check -e examples/tgcheck-wscheck" in core
    assert "--provider wscheck --task-type ws --sandbox" in core
    # tgcheck itself from the checkout (spec "." for core) comes before the plugin.
    assert smoke.index('core) spec="."') < smoke.index('-e "$spec"') < smoke.index(
        "-e examples/tgcheck-wscheck")
