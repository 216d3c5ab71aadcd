"""The sandbox factory's contract (tgcheck_register_sandboxes), checked at load.

`tgcheck sandbox --provider NAME` prints the server's URL and key before it
starts it, and its billed calls after; `--sandbox` starts it for one run. So a
factory must take state_dir= and port= (or **options), and what it returns must:

- have bound its port already: `.url` (http://127.0.0.1:PORT) is readable
  before `start()`;
- carry `.api_key` (a str) and `.billed` (a mapping: call kind -> count);
- start with `__enter__` (returning itself) and stop with `__exit__`.

A plugin that breaks it is named in a ConfigError, not an "unexpected error".
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import ConfigError
from .loopback import is_loopback

# Keywords every factory is given: the embedded sandbox's folder, the CLI's port.
KEYWORDS = ("state_dir", "port")


def _broken(plugin: str, provider: str, why: str) -> ConfigError:
    return ConfigError(f"the plugin {plugin!r} registers a sandbox for {provider!r} that "
                       f"breaks the sandbox contract (docs/plugins.md): {why}; update or "
                       "uninstall the plugin (TGCHECK_LOAD_PLUGINS='' skips installed plugins)")


def checked(plugin: str, provider: str, factory):
    """factory, checked now (check_factory) and wrapped so that each sandbox it
    makes is checked (check_server) before anyone uses it."""
    check_factory(plugin, provider, factory)

    def make(**options):
        return check_server(plugin, provider, factory(**options))

    return make


def check_factory(plugin: str, provider: str, factory) -> None:
    """A factory that is callable and takes the keywords, or a ConfigError."""
    if not callable(factory):
        raise _broken(plugin, provider, f"its factory is not callable ({type(factory).__name__})")
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - a builtin: nothing to read
        params = None
    if params is not None and not any(p.kind is p.VAR_KEYWORD for p in params):
        names = {p.name for p in params}
        missing = [k for k in KEYWORDS if k not in names]
        if missing:
            raise _broken(plugin, provider, "its factory takes no "
                          + " and no ".join(f"{k}=" for k in missing))


def check_server(plugin: str, provider: str, server):
    """The server a factory made, if it keeps the contract."""
    try:
        url = server.url
    except Exception as e:  # noqa: BLE001 - whatever it raises, the plugin is at fault
        raise _broken(plugin, provider, "its server has no .url before start() (bind the "
                      f"port when it is made: {type(e).__name__}: {e})") from None
    parts = urlsplit(url) if isinstance(url, str) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = None
    if parts is None or parts.scheme != "http" or not is_loopback(url) or not port:
        raise _broken(plugin, provider, f"its .url is not http://127.0.0.1:PORT ({url!r})")
    if not isinstance(getattr(server, "api_key", None), str):
        raise _broken(plugin, provider, "its server has no .api_key (a str)")
    if not isinstance(getattr(server, "billed", None), Mapping):
        raise _broken(plugin, provider, "its server has no .billed (a mapping of billed "
                      "calls by kind)")
    if not (hasattr(server, "__enter__") and hasattr(server, "__exit__")):
        raise _broken(plugin, provider, "its server is not a context manager (with: start "
                      "and stop)")
    return server
