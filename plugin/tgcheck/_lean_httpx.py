"""httpx for tgcheck's modules; without its command-line client when a face opts in.

httpx's `__init__` imports `httpx._main` (its `httpx` command) whenever click,
pygments and rich are installed, as they are with tgcheck: click, pygments and
rich's console, progress, syntax and table modules, about 0.05 s of CPU at every
start (a tenth of a cached 200,000-number check, see docs/performance.md).

Leaving it out changes the process: `httpx.main` becomes httpx's stand-in (which
says the client's dependencies are missing). A library must not do that to its
caller's process, so importing tgcheck imports httpx as it is. A face that owns
its process and never runs httpx's client opts in with `skip_cli_client()`
before httpx is first imported: the `tgcheck` command does, in `cli.main()`
(docs/architecture.md, "Process-wide state"). The `httpx` command, a process of
its own, is untouched either way.

tgcheck's modules take httpx from here (`from ._lean_httpx import httpx`), and
only those that make or read an HTTP call: a check whose answers are all stored
imports no httpx at all.
"""

import sys

_skip_client = False


def skip_cli_client() -> None:
    """Opt in: import httpx without its command-line client in this process (when
    httpx is imported later; nothing changes if it is imported already)."""
    global _skip_client
    _skip_client = True


def __getattr__(name: str):
    if name == "httpx":
        return _httpx()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _httpx():
    if _skip_client and "httpx" not in sys.modules:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]  # import fails
        try:
            import httpx
        except ImportError:
            # An httpx that imports its client without guarding it: drop the
            # half-made modules and import it whole (slower to start, never broken).
            for name in [n for n in sys.modules if n == "httpx" or n.startswith("httpx.")]:
                del sys.modules[name]
        else:
            del sys.modules["httpx._main"]
    import httpx

    return httpx


__all__ = ["skip_cli_client"]  # and httpx, through __getattr__
