"""Import httpx without its command-line client.

httpx's `__init__` imports `httpx._main` (its `httpx` command) whenever click,
pygments and rich are installed, as they are with tgcheck: click, pygments and
rich's console, progress, syntax and table modules, about 0.05 s of CPU at every
start of every face (a tenth of a cached 200,000-number check, see
docs/performance.md). tgcheck never runs that client, and imports rich only for a
live progress bar. Imported first by `tgcheck/__init__.py`.

Only the attribute `httpx.main` of this process is httpx's stand-in (which says
the client's dependencies are missing); `import httpx._main` still works, and the
`httpx` command, a process of its own, is untouched.
"""

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # import fails
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]
