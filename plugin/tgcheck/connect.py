"""Failures before any byte reached the provider: no DNS answer, a refused
connection, a failed TLS handshake. Nothing was sent, so nothing can have been
created or billed: such a failure is never "uncertain". It is retried, but only
within a short budget (TGCHECK_CONNECT_BUDGET, a minute by default), each retry
told to whoever is listening, then one clear error naming the host and the cause.
"""

from __future__ import annotations

import functools
import socket
import time
from typing import TYPE_CHECKING

from .errors import TgcheckError
from .retry import Backoff

if TYPE_CHECKING:
    import httpx

    from .provider import CallContext


class Unreachable(TgcheckError):
    """The provider could not be reached at all (nothing was sent, nothing paid)."""


class NotSent(Exception):  # noqa: N818 (what happened, as the engine reads it)
    """The caller stopped during connect retries: nothing reached the provider."""


def pause(delay: float, context: CallContext | None = None) -> None:
    """A wait before sending again that the call context's cancel ends, with
    NotSent: nothing of the next attempt has left (a create's retry after a 429)."""
    cancel = context.cancel if context is not None else None
    if cancel is None:
        time.sleep(delay)
    elif cancel.is_set() or cancel.wait(delay):
        raise NotSent("stopped before sending again")


def tell(message: str, context: CallContext | None = None) -> None:
    """Say a retry to the call context's listener (none: nothing said)."""
    if context is not None:
        context.tell(message)


def backoff(deadline: float, *, base: float, context: CallContext | None = None) -> Backoff:
    """A retry loop whose every retry is told to the call context (tell) and whose
    waits its cancel ends (pause): no retry is silent, none outlives a stop."""
    return Backoff(deadline, base=base, sleep=functools.partial(pause, context=context),
                   tell=functools.partial(tell, context=context))


def cause_of(error: BaseException) -> str:
    """What went wrong, in words, from the exception chain httpx wraps."""
    import ssl  # with httpx: only once a call has failed (the engine imports this module)

    from ._lean_httpx import httpx

    if isinstance(error, httpx.ProxyError):
        return f"the proxy refused the tunnel ({error}; check HTTPS_PROXY and its credentials)"
    seen = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, socket.gaierror):
            return f"its name does not resolve (DNS: {e.strerror or e})"
        if isinstance(e, ConnectionRefusedError):
            return "the connection was refused (nothing listens on that port)"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not trusted ({getattr(e, 'verify_message', None) or e})"
        if isinstance(e, ssl.SSLError):
            return f"the TLS handshake failed ({getattr(e, 'reason', None) or e})"
        if isinstance(e, (httpx.ConnectTimeout, TimeoutError, socket.timeout)):
            return "the connection timed out"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[0].lower() + e.strerror[1:]
        e = e.__cause__ or e.__context__
    text = str(error).strip()
    # httpx's messages for DNS failures are the resolver's own ("Name or service
    # not known", "nodename nor servname provided", "getaddrinfo failed").
    if any(w in text for w in ("Name or service", "nodename", "getaddrinfo",
                               "Temporary failure in name resolution")):
        return f"its name does not resolve (DNS: {text})"
    return text or type(error).__name__


def host_of(url: str | httpx.URL) -> str:
    from ._lean_httpx import httpx

    url = httpx.URL(str(url))
    return f"{url.host}:{url.port}" if url.port else url.host


class ConnectBudget:
    """One call's retries of connect failures: at most `budget` seconds from the
    first failure (and never past the call's deadline)."""

    def __init__(self, budget: float, deadline: float, *, base: float = 0.5,
                 context: CallContext | None = None):
        self.budget, self.deadline, self.base = budget, deadline, base
        self.context = context
        self.started: float | None = None
        self._backoff: Backoff | None = None
        self._last = ""

    def failed(self, error: httpx.TransportError, url, what: str) -> None:
        """Wait before the next attempt, or raise Unreachable when the budget is spent."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
            # Steps of at least a second: the budget is for a network coming back.
            self._backoff = Backoff(min(self.deadline, now + self.budget),
                                    base=max(self.base, 1.0), cap=15.0,
                                    sleep=self._sleep)
        host, cause = host_of(url), cause_of(error)
        self._last = f"{host}: {cause}"
        attempt = self._backoff.attempt + 1
        try:
            self._backoff.wait(what)
        except TgcheckError:  # the budget or the deadline is spent
            raise Unreachable(
                f"{what}: cannot reach {host}: {cause}; tried {attempt} time(s) in "
                f"{now - self.started:.0f}s. Nothing was sent and nothing paid: check the "
                "network, the base URL (TGCHECK_BASE_URL or --base-url) and any proxy or "
                "firewall, then run the same command again") from None

    def _sleep(self, delay: float) -> None:
        # Said before the wait, so a person sees it at once, not after it.
        tell(f"cannot reach {self._last}; nothing sent; retry in {delay:.1f}s "
             f"(attempt {self._backoff.attempt + 1})", self.context)
        cancel = self.context.cancel if self.context is not None else None
        if cancel is not None:
            if cancel.wait(delay):
                raise NotSent("stopped while waiting to reconnect")
        else:
            time.sleep(delay)
