"""HTTP(S)_PROXY, ALL_PROXY and NO_PROXY, as httpx and pip read them.

httpx reads the proxy variables itself (its clients' trust_env); what this module
adds is what the rest of tgcheck must know about them:

- loopback (the sandbox, a stand-in on 127.0.0.1) is never sent to a proxy: a
  corporate proxy cannot reach this machine's 127.0.0.1, and NO_PROXY rarely
  says so;
- whether one request goes through a proxy, asked of httpx's own routing, so the
  result-host check can never disagree with the connection httpx really makes.
  Through a proxy the address connected to is the proxy's: the result host is
  then judged by its name and by what that name resolves to here
  (result_hosts.Guard), not by the peer.

Through an https:// proxy tunnel (CONNECT) the proxy sees the host name and port
only; the API key travels inside TLS. A plain http:// API (loopback only) is never
proxied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

# Always direct, whatever the environment says (httpx's mount patterns).
DIRECT = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def direct_mounts() -> dict[str, None]:
    """Mounts for httpx.Client(mounts=...): None is the client's own, direct transport."""
    return dict.fromkeys(DIRECT)


def via_proxy(client: httpx.Client, url: httpx.URL) -> bool:
    """Whether client sends a request for url through a proxy.

    httpx's routing (the transport it picks for a URL) is the only source of truth:
    httpx does not expose it publicly, so this asks its method, and if a future
    httpx lacks it, answers False: the connected peer is then checked, which
    refuses a proxied download rather than let a private host through."""
    pick = getattr(client, "_transport_for_url", None)
    own = getattr(client, "_transport", None)
    if pick is None or own is None:
        return False
    return pick(url) is not own
