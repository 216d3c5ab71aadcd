"""Hints that name a command repeat the options that chose the store.

A message says "`tgcheck jobs --all` lists them" or "run `tgcheck doctor`"; after
`tgcheck export 3 --sandbox` that command, run as written, looks in the real
store and finds nothing (or no store at all). So every hint of a command run
with --sandbox names --sandbox too, where the hinted command takes it.
"""

from __future__ import annotations

import re

# The commands that have --sandbox (the sandbox's store): `tgcheck sandbox`,
# `config`, `balance`, `store` and `plugins` have none.
TAKES_SANDBOX = frozenset({"check", "resume", "status", "jobs", "export", "cache", "doctor",
                           "sql"})
_HINT = re.compile(r"`tgcheck ([a-z][a-z-]*)([^`]*)`")


def with_sandbox(text: str) -> str:
    """text with --sandbox added to each `tgcheck COMMAND ...` hint that takes it."""
    def add(match: re.Match) -> str:
        command, rest = match.group(1), match.group(2)
        if command not in TAKES_SANDBOX or "--sandbox" in rest:
            return match.group(0)
        return f"`tgcheck {command}{rest} --sandbox`"

    return _HINT.sub(add, text)


def for_store(text: str, sandbox: bool) -> str:
    """text as a command run with (sandbox) or without --sandbox says it."""
    return with_sandbox(text) if sandbox else text
