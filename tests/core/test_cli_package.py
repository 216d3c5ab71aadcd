"""The CLI package parses, displays and writes files; the engine does the work
(issue 23 item 5, docs/architecture.md): no command writes the store or the
journal itself, none joins inputs to answers, and every built-in command is
defined in the package. An AST scan of plugin/tgcheck/cli/, so a new command
breaking a rule fails here before any review."""

from __future__ import annotations

import ast
import inspect

import click

from paths import ROOT
from tgcheck.store import BaseStore, journal

CLI = ROOT / "plugin" / "tgcheck" / "cli"
# What a command may read of engine.store: reads only. Anything else (a write, a
# journal step, the store handed to a function that may write) goes through one
# of the engine's named operations (Engine.abandon, attach, forget_answers, ...).
STORE_READS = {
    "answer_stats", "count_answers", "iter_answers", "job", "job_answers", "job_by_key",
    "job_by_task_id", "job_state_counts", "jobs", "path", "size_bytes",
}
# What only the core's answer column and the engine's planning do: read an input
# as a number, and join inputs to answers by it.
JOINING = {"resolve_all", "sent_numbers", "number_of", "outcome"}


def _journal_steps() -> set[str]:
    """The journal's named steps: its functions that take the store."""
    return {name for name, f in vars(journal).items()
            if inspect.isfunction(f) and f.__module__ == journal.__name__
            and next(iter(inspect.signature(f).parameters), None) == "store"}


def _trees():
    for path in sorted(CLI.glob("*.py")):
        yield path.name, ast.parse(path.read_text(encoding="utf-8"))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def breaches(tree: ast.AST) -> list[str]:
    """What in one module breaks the rules: a use of `.store` other than one of its
    reads, the journal module or a step imported, a join helper imported."""
    steps, found = _journal_steps(), []
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            used = parents.get(node)
            if not (isinstance(used, ast.Attribute) and used.attr in STORE_READS):
                what = used.attr if isinstance(used, ast.Attribute) else "passed on"
                found.append(f"line {node.lineno}: .store ({what})")
        elif isinstance(node, ast.Attribute) and node.attr == "recovery":
            found.append(f"line {node.lineno}: the recovery file")
        elif isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            module = node.module or ""
            if module.endswith("store") and "journal" in names:
                found.append(f"line {node.lineno}: imports the journal's steps")
            if module.endswith("journal") and names & steps:
                found.append(f"line {node.lineno}: imports {sorted(names & steps)}")
            if names & JOINING:
                found.append(f"line {node.lineno}: imports {sorted(names & JOINING)}")
        elif isinstance(node, ast.Import) and any(a.name.endswith(".journal")
                                                  for a in node.names):
            found.append(f"line {node.lineno}: imports the journal")
    return found


def test_the_reads_allowed_are_the_store_s_reads():
    methods = {name for name in dir(BaseStore) if not name.startswith("_")}
    assert STORE_READS - {"path"} <= methods  # path: set by each backend's __init__
    assert {"abandoned", "attached", "settled_after_interrupt", "created"} <= _journal_steps()


def test_no_command_writes_the_store_or_the_journal_or_joins_answers():
    found = {name: b for name, tree in _trees() if (b := breaches(tree))}
    assert found == {}


def test_the_scan_finds_what_the_cli_did_before():
    # What cli/jobs.py, cli/cache.py and cli/interrupt.py did before the engine's
    # named operations: each is caught.
    before = ast.parse(
        "from ..store import journal\n"
        "from ..store.journal import JobState, abandoned\n"
        "from ..engine import sent_numbers\n"
        "journal.abandoned(engine.store, job.id, 'by hand')\n"
        "deleted = engine.store.delete_answers(task_type=None)\n"
        "stored = engine.store.origins('tg', numbers)\n"
        "engine.recovery.attached(task_id)\n"
        "count = engine.store.count_answers()\n")
    assert [b.partition(":")[0] for b in breaches(before)] == [
        "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]


def test_every_built_in_command_is_defined_in_the_cli_package():
    from tgcheck.cli import cli

    def defined_in(command: click.Command) -> list[str]:
        modules = [command.callback.__module__] if command.callback else []
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                modules += defined_in(sub)
        return modules

    # tgcheck's own modules only: a plugin's command (the SQL face's `sql`, once
    # listed) is defined in its own package.
    outside = {name: module for name, command in cli.commands.items()
               for module in defined_in(command)
               if module.startswith("tgcheck.") and not module.startswith("tgcheck.cli.")}
    assert outside == {}
    assert {"doctor", "store"} <= set(cli.commands)
