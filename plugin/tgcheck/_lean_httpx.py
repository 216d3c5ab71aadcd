"""Import httpx without its command-line client.

httpx's `__init__` imports `httpx._main` (its `httpx` command) whenever click,
pygments and rich are installed, as they are with tgcheck: click, pygments and
rich's console, progress, syntax and table modules, about 0.05 s of CPU at every
start of every face (a tenth of a cached 200,000-number check, see
docs/performance.md). tgcheck never runs that client, and imports rich only for a
live progress bar. tgcheck's modules take httpx from here
(`from ._lean_httpx import httpx`), and only those that make or read an HTTP call:
a check whose answers are all stored imports no httpx at all.

Only the attribute `httpx.main` of this process is httpx's stand-in (which says
the client's dependencies are missing); `import httpx._main` still works, and the
`httpx` command, a process of its own, is untouched.
"""

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # import fails
    try:
        import httpx
    except ImportError:
        # An httpx that imports its client without guarding it: drop the half-made
        # modules and import it whole (slower to start, never broken).
        for name in [n for n in sys.modules if n == "httpx" or n.startswith("httpx.")]:
            del sys.modules[name]
        import httpx
    else:
        del sys.modules["httpx._main"]
else:
    import httpx

__all__ = ["httpx"]
