"""Which hosts a result file may be fetched from: checked after name resolution.

A result URL comes from the provider's reply; fetched blindly it could make this
machine read its own services (a cloud metadata address, a database on
loopback) and hand what they say to a parser. Literal checks are not enough:
`https://127.1`, `https://0x7f000001`, `https://2852039166` (169.254.169.254) and
any name an attacker's DNS points at 127.0.0.1 all reach private addresses. So
every address the host resolves to is checked before the first byte is sent,
on every redirect hop, and the peer actually connected to is checked again (a
name that resolves differently the second time).

Through a proxy (proxies.py) the peer is the proxy, so only the name and its
resolution here can be checked: the proxy resolves the name again itself, so a
name whose answer changes between the two (DNS rebinding), or one that resolves
differently inside the proxy's network, cannot be caught from here. A name that
does not resolve here at all is let through a proxy (behind corporate proxies,
often only the proxy can resolve public names); an IP literal and a name that
resolves here to a private address are refused as without a proxy.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# host, port -> the addresses it resolves to (as text)
Resolver = Callable[[str, int], Iterable[str]]


class HostRefused(Exception):
    """The result URL's host is, or resolves to, an address results may not come from."""


class Unresolved(HostRefused):
    """The result URL's host does not resolve here."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise Unresolved(f"its host does not resolve ({e})") from None
    return [info[4][0] for info in infos]


def literal_resolver(host: str, port: int) -> list[str]:
    """Only what needs no DNS: IP literals in any spelling inet_aton accepts
    (127.1, 0x7f000001, 2852039166). A name resolves to nothing: for providers
    given an httpx transport of their own (tests), where no socket is opened."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        return [socket.inet_ntoa(socket.inet_aton(host))]
    except OSError:
        return []


def refusal(address: str, *, allow_loopback: bool) -> str | None:
    """Why results may not come from this address, or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if allow_loopback and ip.is_loopback:
        return None
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast \
            or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return f"{ip} is a loopback, private, link-local, multicast or reserved address"
    return None


def check_url(url: str, *, api_is_loopback: bool, resolve: Resolver,
              through_proxy: bool = False) -> None:
    """Raise HostRefused unless url may be fetched: https:// (plain http:// only to
    loopback, with a loopback API: the sandbox), and every address its host
    resolves to allowed. through_proxy: a name that does not resolve here is let
    through (the proxy resolves it)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise HostRefused("it names no host")
    if parts.scheme not in ("https", "http"):
        raise HostRefused(f"{parts.scheme}:// is not https://")
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        addresses = ["127.0.0.1"]
    else:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise HostRefused("its port is not a number") from None
        try:
            addresses = list(resolve(host, port))
        except Unresolved:
            if not through_proxy or parts.scheme != "https":
                raise
            return  # only the proxy can resolve it: the name is all there is to check
    reasons = [r for a in addresses if (r := refusal(a, allow_loopback=api_is_loopback))]
    if reasons:
        raise HostRefused(reasons[0])
    if parts.scheme == "http" and not (
            api_is_loopback and addresses
            and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)):
        raise HostRefused("http:// is not https://")


class Guard:
    """The rule for one downloading client: every hop's URL checked before it is
    sent (check_request, an httpx request hook) and the address connected to
    checked again (check_peer, bounded_http's peer_check), except through a proxy,
    where that address is the proxy's and the hop's name and resolution are what
    is checked. A hop's route is kept per thread: httpx's sync client runs the
    hook and the connect of one request on the caller's thread."""

    def __init__(self, *, api_is_loopback: bool, resolve: Resolver):
        self.api_is_loopback, self.resolve = api_is_loopback, resolve
        self._hop = threading.local()

    def check_request(self, client, request) -> None:
        """Raise HostRefused unless this hop may be sent (client: the one sending it)."""
        from .proxies import via_proxy

        proxied = via_proxy(client, request.url)
        self._hop.proxied = proxied
        check_url(str(request.url), api_is_loopback=self.api_is_loopback,
                  resolve=self.resolve, through_proxy=proxied)

    def check_peer(self, address: str) -> str | None:
        if getattr(self._hop, "proxied", False):
            return None  # the proxy's own address: the hop's name was checked
        return refusal(address, allow_loopback=self.api_is_loopback)
