"""HTTP requests bounded in total time and body size, whatever the server does.

httpx bounds each phase (connect, each read), not a whole reply: a server sending
one byte a second, or its headers a byte at a time, keeps a request alive for
hours with a 10 s read timeout, and an endless (or gzip-bombed) body grows in
memory until the process dies. Here every request gets:

- a total deadline, held by a watchdog that shuts the request's socket down when
  it passes (a blocked read wakes up at once; httpcore's trace hook hands over the
  socket as the connection is made);
- a body read as a stream and counted AFTER content decoding, refused past a cap.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from ._lean_httpx import httpx

# Content codings whose decoded size the wire length says nothing about.
_CONNECT_CAP = 10.0


class TotalTimeout(httpx.ReadTimeout):
    """The request outlived its total deadline (the watchdog shut it down).

    A ReadTimeout: callers that retry a timed-out status call or take a
    timed-out create for uncertain treat it alike."""


class BodyTooLarge(Exception):
    """The reply's body, decoded, is larger than the cap."""

    def __init__(self, limit: int):
        super().__init__(f"larger than {limit:,} bytes")
        self.limit = limit


class PeerRefused(Exception):
    """The address connected to is one the caller's peer_check refuses."""


class _Watchdog:
    def __init__(self, seconds: float, peer_check=None):
        self.fired = False
        self.refused: str | None = None
        self._peer_check = peer_check
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        if self._peer_check is not None:
            # The address really connected to: a name may resolve differently now
            # than when it was checked (DNS rebinding). Nothing was sent yet.
            try:
                reason = self._peer_check(sock.getpeername()[0])
            except OSError as e:
                reason = f"its peer is unknown ({e})"
            if reason:
                self.refused = reason
                _shut(sock)
                return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def request(client: httpx.Client, method: str, url: str, *, total: float, read: float,
            max_bytes: int, peer_check=None, on_status=None, **kwargs) -> httpx.Response:
    """One request, its body read whole: done within `total` seconds (each read
    within `read`), its decoded body at most max_bytes, or an exception:
    TotalTimeout (an httpx.TimeoutException), BodyTooLarge, any httpx error
    (httpx.DecodingError for a body whose Content-Encoding is broken).

    The response returned holds the decoded body (.content, .json(), .text).
    Redirects are not followed here (the caller's client decides per hop).
    peer_check(address) -> reason or None is asked about every address connected
    to, before anything is sent; a reason raises PeerRefused.
    on_status(code) hears the status line as soon as it arrives, before the body:
    a vendor that bills "every 200" bills one whose body is then cut short, trickles
    past the deadline or is over the cap (billed_calls counts it from there).
    """
    total = max(total, 0.001)
    read = max(min(read, total), 0.001)
    timeout = httpx.Timeout(read, connect=min(_CONNECT_CAP, read))
    end = time.monotonic() + total
    with _Watchdog(total, peer_check) as dog:
        # A caller's own trace hook (the create's "request sent" mark) still hears
        # every event, after the watchdog.
        extensions = dict(kwargs.pop("extensions", None) or {})
        theirs = extensions.get("trace")

        def trace(event: str, info: dict) -> None:
            dog.trace(event, info)
            if theirs is not None:
                theirs(event, info)

        extensions["trace"] = trace
        req = client.build_request(method, url, timeout=timeout, extensions=extensions,
                                   **kwargs)
        try:
            response = client.send(req, stream=True)
            try:
                if on_status is not None:
                    on_status(response.status_code)
                declared = response.headers.get("Content-Length", "")
                if (declared.isdigit() and int(declared) > max_bytes
                        and not response.headers.get("Content-Encoding")):
                    raise BodyTooLarge(max_bytes)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise BodyTooLarge(max_bytes)
                    chunks.append(chunk)
                    if time.monotonic() > end:
                        raise TotalTimeout("the reply took longer than its deadline")
            finally:
                response.close()
        except httpx.TransportError as e:
            if dog.refused:
                raise PeerRefused(dog.refused) from None
            if dog.fired and not isinstance(e, TotalTimeout):
                raise TotalTimeout("the reply took longer than its deadline") from None
            raise
    body = b"".join(chunks)
    del chunks
    # The decoded body in a response of its own: no Content-Encoding left to apply
    # twice, and everything a caller reads from it is already in memory.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length",
                                    "transfer-encoding")]
    done = httpx.Response(response.status_code, headers=headers, content=body, request=req,
                          extensions=response.extensions, history=response.history)
    done.next_request = response.next_request
    return done
