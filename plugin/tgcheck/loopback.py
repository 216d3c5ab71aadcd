"""Whether a URL's host is this machine: plain http:// is accepted only there
(the sandbox, tests). A module of its own, importing nothing of tgcheck's, so
that the sandbox contract and the settings can both use it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
