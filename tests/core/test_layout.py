"""The layout a newcomer can find the rooms in (docs/architecture.md): no import
cycle, no module over 600 lines, and a CLI check's numbers reach the provider's
create through at most 6 modules, none entered twice."""

from __future__ import annotations

import ast
import sys
import threading
import traceback
from pathlib import Path

from click.testing import CliRunner

from conftest import numbers
from paths import ROOT

# tgcheck's own packages, by import name: the core, the DuckDB face, the Excel face.
PACKAGES = {
    "tgcheck": ROOT / "plugin" / "tgcheck",
    "tgcheck_duckdb": ROOT / "sql" / "tgcheck_duckdb",
    "tgcheck_udfs": ROOT / "udfs" / "tgcheck_udfs",
}
MAX_LINES = 600
# Modules being shrunk, each held to its size so that it cannot grow meanwhile
# (every module is under the limit now: a new entry needs a reason here).
OVERSIZED: dict[str, int] = {}
# The modules a CLI check's numbers pass, from the command to the provider's
# create (docs/architecture.md, "The path of one check").
CHECK_PATH = [
    "tgcheck.cli.check",
    "tgcheck.engine",
    "tgcheck.engine.planning",
    "tgcheck.engine.jobs",
    "tgcheck.engine.driver",
    "tgcheck.default_plugins.ekycpro.client",
]


def _modules() -> dict[str, Path]:
    """import name -> file, for every module of tgcheck's packages."""
    found = {}
    for top, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _import_nodes(tree: ast.AST):
    """Every import statement, those inside functions too (they run when the
    function is called: a cycle through one is still a cycle, only a later one).
    Left out: imports under `if TYPE_CHECKING:`, which never run; they name a type
    for readers and type checkers only."""
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of tgcheck's packages it imports. Importing a.b.c
    runs the packages a.b and a first: an edge to each of them too, unless the
    importer is inside that package (its package is initialised already)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1]
                                + ([node.module] if node.module else []))
            for alias in node.names:  # `from pkg import module` imports the module
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
        edges = set()
        for target in targets:
            while target and target not in modules:  # a name inside a module
                target = target.rpartition(".")[0]
            while target:
                if name != target and not name.startswith(target + "."):
                    edges.add(target)
                target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_import_cycle():
    graph = import_graph()
    assert "tgcheck.engine.planning" in graph["tgcheck.engine"]  # the graph is read
    found = cycles(graph)
    assert not found, "modules that import each other, through imports in functions " \
        "too: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_finds_a_cycle_through_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from . import x\nif TYPE_CHECKING:\n    import y\n")
    assert [type(n).__name__ for n in _import_nodes(tree)] == ["ImportFrom"]


def test_no_module_over_600_lines():
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for path in _modules().values()}
    over = {name: size for name, size in sizes.items()
            if size > OVERSIZED.get(name, MAX_LINES)}
    assert not over, f"modules over {MAX_LINES} lines (or over their allowance): {over}"
    shrunk = [name for name, ceiling in OVERSIZED.items() if sizes.get(name, 0) <= MAX_LINES]
    assert not shrunk, f"{shrunk}: at most {MAX_LINES} lines now; take them off OVERSIZED"


def test_no_module_of_the_check_path_imports_one_before_it():
    """A call can only go down the path, never climb back to a module it came
    through: none imports one before it. (Going down needs no import everywhere:
    the facade, tgcheck.engine, hands each part the others, and the driver
    reaches the provider through the contract, tgcheck.provider.)"""
    graph = import_graph()
    assert "tgcheck.provider" in graph["tgcheck.engine.driver"]
    for i, module in enumerate(CHECK_PATH):
        back = graph[module] & set(CHECK_PATH[:i])
        assert not back, f"{module} imports {back}, before it on the check's path"


def test_a_cli_check_reaches_the_create_through_at_most_6_modules(sandbox_env, tmp_path,
                                                                  monkeypatch):
    """Measured, not declared: the modules on the call stack when the provider's
    create is called, from `tgcheck check` down. The job runs on a worker thread
    (Ctrl-C never cuts a create), so the main thread's stack, waiting for it, comes
    first. Each module is counted once for its run of frames; one seen again
    after another is a climb back."""
    from tgcheck.cli import cli
    from tgcheck.default_plugins.ekycpro.client import EkycproProvider

    files = {str(path): name for name, path in _modules().items()}
    seen: list[list[str]] = []
    create = EkycproProvider.create_task

    def recording(self, *args, **kwargs):
        main = sys._current_frames()[threading.main_thread().ident]
        frames = [] if threading.current_thread() is threading.main_thread() else \
            traceback.extract_stack(main)
        frames += traceback.extract_stack()[:-1]  # not this wrapper
        path = []
        for frame in frames:
            module = files.get(frame.filename)
            if module and (path or module == "tgcheck.cli.check") and \
                    (not path or path[-1] != module):
                path.append(module)
        seen.append([*path, EkycproProvider.__module__])
        return create(self, *args, **kwargs)

    monkeypatch.setattr(EkycproProvider, "create_task", recording)
    source = tmp_path / "in.csv"
    source.write_text("phone\n" + "\n".join(numbers(5)) + "\n")
    result = CliRunner().invoke(cli, ["check", str(source), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    [path] = seen
    assert path == CHECK_PATH
    assert len(path) <= 6 and len(set(path)) == len(path)


def test_tests_import_their_helpers_as_pytest_puts_them_on_the_path():
    """pytest puts tests/ on the path (pythonpath in pyproject.toml), not the
    checkout: `from tests.conftest import ...` collects only under `python -m
    pytest` (which adds the working folder), never under bare `pytest`, and would
    load conftest a second time. Helpers are imported by their own name."""
    from paths import TESTS

    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            if any(name == "tests" or name.startswith("tests.") for name in names):
                found.append(f"{path.relative_to(TESTS).as_posix()}:{node.lineno}")
    assert not found, f"import tests.* (use `from conftest import ...`): {found}"
