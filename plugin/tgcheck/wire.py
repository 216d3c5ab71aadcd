"""The core's one HTTP layer: a provider describes a call, the wire makes it.

A provider says what to send (a Call: method, path, form fields, size cap) and
how to read and refuse what comes back (its parse, its error words); the wire
owns everything else that every vendor needs alike, so no provider writes its own
retry loop to get it right:

- two clients: the API's carries the key and never follows a redirect (the key
  would travel along); the downloads' carries no key, follows at most 5
  redirects and checks every hop's host (result_hosts.Guard);
- HTTP(S)_PROXY / NO_PROXY as httpx reads them, loopback always direct (proxies);
- one TLS context for both (the CA bundle is loaded once);
- each request bounded in total time and body size (bounded_http);
- retries with backoff and Retry-After, each told as a `retry` event and ended by
  a stop (connect.backoff); failed connects within TGCHECK_CONNECT_BUDGET
  (connect); 5xx on a create within TGCHECK_SERVER_ERROR_BUDGET, and 404/405/501
  ("not this endpoint") at once (server_errors);
- "may have reached the vendor": a create is sent again only when it provably
  created nothing; otherwise UncertainCreate;
- billed replies counted from their status line, the caller's budget held
  between retries (billed_calls);
- what the server says passes the redaction point, the key cut out (reply_text).

Models: httpx's transport contract below, botocore's waiters and Airbyte's
declarative requesters above (a request description, an error handler).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from . import billed_calls, bounded_http, connect, proxies, redact, result_hosts, server_errors
from ._lean_httpx import httpx
from .bounded_http import BodyTooLarge, PeerRefused
from .connect import ConnectBudget
from .errors import (
    ApiError,
    BadRequest,
    InsufficientBalance,
    KeyRefused,
    ResultFileError,
    TaskLost,
    TaskTooLarge,
    UncertainCreate,
)
from .provider import CallContext
from .retry import Backoff, retry_after_seconds
from .settings import Settings, is_loopback

# A create or status reply is a few hundred bytes: a megabyte is a broken server.
MAX_REPLY_BYTES = 1024 * 1024
# A request never gets less than this, even at its job's deadline: the next
# backoff step then says the deadline has passed.
MIN_REQUEST_SECONDS = 1.0
# A create or status call may take this many http_timeouts in total: its connect
# and its reply each get one, as httpx's own per-phase timeouts allow.
API_SPAN = 2
# A download may take this many http_timeouts in total (large files, slow links).
DOWNLOAD_SPAN = 10
# On create, these come from a gateway that gave up waiting: the task may exist.
GATEWAY_TIMEOUTS = (502, 504)
# Billed replies that could not be used, in a row, before a query gives up.
MAX_UNREADABLE_REPLIES = 5

# What a read of a reply of the wrong shape raises: the reply is unreadable
# (OverflowError: a count of 10**400 numbers, met by arithmetic on it).
UNREADABLE = (ValueError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError,
              OverflowError)

# refuse(response, what): raise the provider's own error for a final non-2xx reply.
Refuse = Callable[[httpx.Response, str], None]
# read(response): the provider's value from a 2xx reply; ValueError: unreadable.
Read = Callable[[httpx.Response], Any]


@dataclasses.dataclass(frozen=True)
class Call:
    """One API call, as a provider describes it."""

    what: str  # for messages: "creating the task"
    method: str
    path: str  # relative to the base URL
    files: dict | None = None  # multipart/form-data parts
    data: dict | None = None  # form fields
    json: object = None  # a JSON body
    params: dict | None = None  # query parameters
    max_bytes: int = MAX_REPLY_BYTES

    def send(self) -> dict:
        """The request keywords of this call's body and query."""
        parts = {"files": self.files, "data": self.data, "json": self.json,
                 "params": self.params}
        return {k: v for k, v in parts.items() if v is not None}


class NoAnswer(Exception):  # noqa: N818 (what happened, as Wire.once's caller reads it)
    """Wire.once: nothing usable came back (no connection, a drop, a timeout, a body
    cut short or over the cap, 429 or 5xx); status: the reply's status line, if one
    came; retry_after: its Retry-After, if it gave one."""

    def __init__(self, detail: str, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(detail)
        self.status, self.retry_after = status, retry_after


@dataclasses.dataclass(frozen=True)
class Errors:
    """A provider's error table: which final replies (not retried: 408, 425, 429,
    5xx are the wire's) mean which of tgcheck's errors. Wire.refuse applies it; any
    other 4xx is BadRequest (free, nothing created), a redirect an ApiError.

    lost: codes of a task's status call that mean the vendor does not know the task
    (TaskLost); lost_words: refusal text saying so under another code."""

    key_refused: frozenset[int] = frozenset({401, 403})
    no_balance: frozenset[int] = frozenset({402})
    too_large: frozenset[int] = frozenset({413})
    lost: frozenset[int] = frozenset({404})
    lost_words: re.Pattern | None = None


class _BilledUnusable(Exception):  # noqa: N818 (what happened, as query reads it)
    """A billed (2xx) reply whose body never arrived whole."""


def transient(response: httpx.Response) -> bool:
    """A reply worth trying again: timeouts, rate limits, the server's own errors."""
    return response.status_code in (408, 425, 429) or response.status_code >= 500


class Wire:
    def __init__(self, settings: Settings, *, base_url: str, secret: str,
                 secret_headers: dict[str, str], user_agent: str = "tgcheck",
                 errors: Errors = Errors(),  # noqa: B008 (frozen: shared safely)
                 transport: httpx.BaseTransport | None = None,
                 resolver: result_hosts.Resolver | None = None):
        self.settings, self.base_url, self._secret = settings, base_url, secret
        self.errors = errors
        # Result hosts are checked after resolution. A transport of the caller's
        # (tests) opens no socket: by default only IP literals are resolved then.
        self._hosts = result_hosts.Guard(
            api_is_loopback=is_loopback(base_url),
            resolve=resolver or (result_hosts.literal_resolver if transport is not None
                                 else result_hosts.system_resolver))
        timeout = httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout))
        # A connection per request: the total deadline (bounded_http) holds by shutting
        # the request's own socket down, which it learns of when it is connected. Calls
        # are seconds apart (polling), so reusing connections would save little.
        limits = httpx.Limits(max_keepalive_connections=0)
        # One TLS context for both clients: each one built loads the CA bundle
        # again (0.02 s of CPU).
        tls = httpx.create_ssl_context()
        # HTTP(S)_PROXY and NO_PROXY as httpx reads them; loopback always direct.
        mounts = None if transport is not None else proxies.direct_mounts()
        self.api = httpx.Client(
            base_url=base_url,
            headers={**secret_headers, "User-Agent": user_agent},
            timeout=timeout, limits=limits, verify=tls, transport=transport, mounts=mounts,
            follow_redirects=False,  # never carry the key to another host
        )
        # Downloads go to presigned URLs on other hosts: no key travels there.
        self.files = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=timeout, limits=limits, verify=tls, transport=transport, mounts=mounts,
            follow_redirects=True,
            max_redirects=5,
            event_hooks={"request": [self._check_download_request]},
        )

    def close(self) -> None:
        self.api.close()
        self.files.close()

    # -- the parts ---------------------------------------------------------------
    def deadline(self, deadline: float | None) -> float:
        return time.monotonic() + self.settings.timeout if deadline is None else deadline

    def context(self, context: CallContext | None, deadline: float | None = None,
                on_billed=None) -> CallContext:
        """The call's context: the engine's, or one made of the older keywords
        (deadline=, on_billed=; the settings' timeout when none)."""
        if context is not None:
            return context
        return CallContext(deadline=self.deadline(deadline), on_billed=on_billed)

    def backoff(self, deadline: float | None, context: CallContext | None = None) -> Backoff:
        # Every retry told to the call's listener (stderr, JSON progress).
        return connect.backoff(self.deadline(deadline), base=self.settings.retry_base,
                               context=context)

    def connect_budget(self, deadline: float | None,
                       context: CallContext | None = None) -> ConnectBudget:
        return ConnectBudget(self.settings.connect_budget, self.deadline(deadline),
                             base=self.settings.retry_base, context=context)

    def request(self, client: httpx.Client, method: str, url: str, deadline: float, *,
                span: float = API_SPAN, max_bytes: int = MAX_REPLY_BYTES,
                **kwargs) -> httpx.Response:
        """One request bounded in total time (never far past the job's deadline) and
        in body size, also while a body streams in a byte at a time."""
        remaining = deadline - time.monotonic()
        floor = min(MIN_REQUEST_SECONDS, self.settings.http_timeout)
        total = max(min(self.settings.http_timeout * span, remaining), floor)
        return bounded_http.request(client, method, url, total=total,
                                    read=self.settings.http_timeout, max_bytes=max_bytes,
                                    **kwargs)

    def reply_text(self, response: httpx.Response, limit: int = 300) -> str:
        """The server's explanation of a reply, through the redaction point, the key
        cut out should the server echo it."""
        try:
            data = response.json()
            if isinstance(data, dict):
                for field in ("message", "error", "detail", "msg"):
                    if isinstance(data.get(field), str):
                        return redact.clean(data[field], limit).replace(self._secret, "***")
        except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
            pass
        try:
            return redact.clean(response.text, limit).replace(self._secret, "***")
        except (UnicodeDecodeError, httpx.ResponseNotRead):
            return "(unreadable body)"

    def refuse(self, response: httpx.Response, what: str, *, lost: bool = False) -> None:
        """The error table (Errors) applied to a final reply: a 2xx passes. lost: a
        task's status call, whose "no such task" is TaskLost."""
        code, table = response.status_code, self.errors
        if 300 <= code < 400:
            # Not followed (the key would travel along), and not retried: a redirect
            # answers every retry the same way. Nothing was created by it.
            target = httpx.URL(response.headers.get("Location", ""))
            raise ApiError(f"{what}: the provider redirects (HTTP {code}) to "
                           f"{target.scheme}://{target.host}; check TGCHECK_BASE_URL")
        if code in table.key_refused:
            raise KeyRefused(
                f"{what}: the provider refused the API key (HTTP {code}); check TGCHECK_API_KEY"
            )
        if 400 <= code < 500 and code not in (408, 425, 429):
            text = self.reply_text(response)
            if code in table.no_balance:
                raise InsufficientBalance(
                    f"{what}: insufficient balance at the provider (HTTP {code}): {text}; "
                    "top up the account (`tgcheck balance` shows it); nothing was created "
                    "or billed")
            if code in table.too_large:
                raise TaskTooLarge(f"{what}: the provider refused the file as too large "
                                   f"(HTTP {code}): {text}")
            if lost and (code in table.lost
                         or (table.lost_words is not None and table.lost_words.search(text))):
                raise TaskLost(f"{what}: the provider does not know this task "
                               f"(HTTP {code}): {text}")
            raise BadRequest(f"{what}: the provider refused the request (HTTP {code}): {text}")

    def _refuse_lost(self, response: httpx.Response, what: str) -> None:
        self.refuse(response, what, lost=True)

    # -- a create: never sent again once it may have reached the vendor ----------
    def create(self, call: Call, *, read: Read, refuse: Refuse | None = None,
               context: CallContext | None = None, deadline: float | None = None):
        """read(response) of the create's 2xx reply. Sent again only after what
        provably created nothing (no connection, 429, the provider's own 5xx within
        the server-error budget); UncertainCreate when the request may have reached
        the vendor and its outcome is unknown. read's ValueError or ApiError: the
        reply could not be read, so the task may exist: UncertainCreate too (as
        any of UNREADABLE: a reply of the wrong shape). refuse: the error table's
        (Wire.refuse) unless given.

        context.request_sent is kept up to date (mark_sent): False while nothing of
        the current attempt has left (connecting, waiting to retry), so a Ctrl-C
        there leaves the job new rather than uncertain."""
        context = self.context(context, deadline)
        deadline = context.deadline
        refuse = refuse or self.refuse
        what = call.what
        # A stop asked for while waiting to retry (429, 5xx: nothing created)
        # sends nothing more: a create is started again only by the next run.
        backoff = self.backoff(deadline, context)
        connecting = self.connect_budget(deadline, context)
        failing = server_errors.ServerErrorBudget(
            self.settings.server_error_budget, deadline, base=self.settings.retry_base,
            base_url=self.base_url, context=context)

        def trace(name: str, info) -> None:  # httpcore's trace extension
            if name.endswith("send_request_headers.started"):
                if getattr(info.get("request"), "method", None) == b"CONNECT":
                    return  # to a proxy, asking for a tunnel: nothing reaches the provider
                context.mark_sent(True)  # from here on, the request may reach the provider

        while True:
            context.mark_sent(False)
            try:
                response = self.request(self.api, call.method, call.path, deadline,
                                        max_bytes=call.max_bytes, extensions={"trace": trace},
                                        **call.send())
            except (BodyTooLarge, httpx.DecodingError) as e:
                raise UncertainCreate(
                    f"{what}: the reply could not be read ({e}); "
                    "the task may exist and be billed") from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                    httpx.ProxyError) as e:
                # Nothing reached the server (a proxy that refuses the tunnel, 407 or
                # 403, is asked before): safe to try again, for a short while.
                connecting.failed(e, self.base_url, what)
                continue
            except httpx.TransportError as e:
                if not context.request_sent:
                    # Failed before any byte of the request left (a TLS handshake,
                    # a proxy that never answers the CONNECT): nothing was created.
                    connecting.failed(e, self.base_url, what)
                    continue
                raise UncertainCreate(
                    f"{what}: the connection failed after the request was sent "
                    f"({type(e).__name__}); the task may exist and be billed"
                ) from None
            if response.status_code in GATEWAY_TIMEOUTS:
                # From a proxy in front of the provider, which may have received
                # the file and created the task after the proxy gave up.
                raise UncertainCreate(
                    f"{what}: HTTP {response.status_code} from a gateway; the "
                    "provider behind it may have created the task, and billed it")
            wrong = server_errors.not_this_endpoint(response, what, self.base_url)
            if wrong is not None:
                raise wrong  # 404/405/501: no retry changes it; nothing was created
            if transient(response):
                # 429 and the provider's own 5xx are free and create nothing: retry,
                # 5xx only within the server-error budget, not for hours.
                context.mark_sent(False)
                if response.status_code >= 500:
                    failing.failed(response, what)
                else:
                    backoff.wait(what, retry_after_seconds(response.headers.get("Retry-After")),
                                 f"HTTP {response.status_code}")
                continue
            refuse(response, what)
            if 200 <= response.status_code < 300 and server_errors.is_html(response):
                # A web page, not the API; kept uncertain all the same: a 2xx is
                # what the vendor bills.
                raise UncertainCreate(
                    f"{what}: {redact.url_without_userinfo(self.base_url)} "
                    f"answered HTTP {response.status_code} with a web page, not the API's "
                    "reply: check the base URL (TGCHECK_BASE_URL or --base-url); if it is "
                    "right, the task may exist and be billed")
            # 200 (older deployments) and 202 (newer) alike: a 2xx is a created,
            # charged task.
            if not 200 <= response.status_code < 300:
                raise UncertainCreate(f"{what}: unexpected HTTP {response.status_code}")
            try:
                return read(response)
            except (*UNREADABLE, ApiError) as e:
                raise UncertainCreate(
                    f"{what}: the reply could not be read ({e}); "
                    "the task may exist and be billed") from None

    # -- a query: repeated freely, each billed reply counted ---------------------
    def query(self, call: Call, *, read: Read, refuse: Refuse | None = None,
              lost: bool = False, context: CallContext | None = None,
              deadline: float | None = None, on_billed=None,
              max_unreadable: int = MAX_UNREADABLE_REPLIES):
        """read(response) of a call that may be repeated (a status, a balance).

        Retried until the deadline after what left nothing billed (a failed connect
        within the connect budget, a dropped connection, 429, 5xx). A 2xx is billed
        from its status line (on_billed, at once); if its body cannot be used (cut
        short, late, over the cap, a broken encoding, or read raises ValueError or
        UnicodeDecodeError), it is retried too, at most max_unreadable in a row and
        never once on_billed.spent() (BudgetSpent). 405/501 mean "not this
        endpoint" (WrongEndpoint, at once); other final replies go to refuse.
        context: the engine's (its on_billed, deadline, cancel), or one made of
        deadline= and on_billed=. refuse: the error table's (Wire.refuse; lost: a
        task's status call, "no such task" is TaskLost) unless given."""
        context = self.context(context, deadline, on_billed)
        refuse = refuse or (self._refuse_lost if lost else self.refuse)
        deadline = context.deadline
        what = call.what
        backoff = self.backoff(deadline, context)
        connecting = self.connect_budget(deadline, context)
        # Each paid reply counts from its status line, whatever its body does next.
        meter = billed_calls.Meter(context.on_billed, what)
        unreadable = 0
        while True:
            try:
                response = self._try(call, deadline, backoff, connecting, meter)
            except (BodyTooLarge, httpx.DecodingError, _BilledUnusable) as e:
                if isinstance(e, BodyTooLarge):
                    detail = f"a reply {e}; a reply here is a few hundred bytes"
                elif isinstance(e, httpx.DecodingError):
                    detail = "a body with a broken Content-Encoding"
                else:
                    detail = str(e)
                response = httpx.Response(200, text=f"({detail})")
            if response is None:
                continue  # nothing billed happened: try again
            if response.status_code in (405, 501):
                raise server_errors.not_this_endpoint(response, what, self.base_url)
            refuse(response, what)
            try:
                return read(response)
            except UNREADABLE:
                # A broken body (truncated, an HTML error page): paid, but retry,
                # a few times only: a maintenance page could answer for hours.
                unreadable += 1
                if unreadable >= max_unreadable:
                    raise ApiError(
                        f"{what}: {unreadable} replies in a row could not be read "
                        f"(HTTP {response.status_code}: {self.reply_text(response, 80)!r}); "
                        "the job stays open: run the same check again later") from None
                backoff.wait(what, last_error="unreadable reply")

    def _try(self, call: Call, deadline: float, backoff: Backoff, connecting: ConnectBudget,
             meter: billed_calls.Meter) -> httpx.Response | None:
        """One try: the reply, or None after waiting out what left nothing billed."""
        meter.start()  # BudgetSpent: a billed reply came back and the budget is used up
        try:
            response = self.request(self.api, call.method, call.path, deadline,
                                    max_bytes=call.max_bytes, on_status=meter.heard,
                                    **call.send())
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError) as e:
            connecting.failed(e, self.base_url, call.what)
            return None
        except httpx.TransportError as e:
            if meter.last_billed:
                # Paid, but cut short or trickling past its deadline.
                raise _BilledUnusable(f"the reply was cut off ({type(e).__name__})") from None
            backoff.wait(call.what, last_error=type(e).__name__)
            return None
        if transient(response):
            backoff.wait(call.what, retry_after_seconds(response.headers.get("Retry-After")),
                         f"HTTP {response.status_code}")
            return None
        return response

    # -- one try: a call the caller never repeats itself ------------------------
    def once(self, call: Call, *, deadline: float, refuse: Refuse, read: Read,
             span: float = 1):
        """read(response) of one try's 2xx reply, for a call whose caller does not
        wait for it to succeed (a synchronous check: a number it cannot answer goes
        to a task instead). NoAnswer when nothing usable came back, with the status
        line if one came (a 200 cut short is billed by a vendor that bills "every
        200") and the server's Retry-After; other replies go to refuse first (the
        provider's error table, redirects included), NoAnswer if it lets a non-2xx
        pass. Nothing is counted here: such a call is billed as its body says."""
        heard: list[int] = []  # the status line, which may come before a broken body
        try:
            response = self.request(self.api, call.method, call.path, deadline, span=span,
                                    max_bytes=call.max_bytes, on_status=heard.append,
                                    **call.send())
        except (httpx.TransportError, BodyTooLarge, httpx.DecodingError) as e:
            raise NoAnswer(type(e).__name__, heard[-1] if heard else None) from None
        code = response.status_code
        if transient(response):
            raise NoAnswer(f"HTTP {code}", code,
                           retry_after_seconds(response.headers.get("Retry-After")))
        refuse(response, call.what)
        if not 200 <= code < 300:
            raise NoAnswer(f"HTTP {code}", code)
        return read(response)

    # -- a download: no key, every hop's host checked -----------------------------
    def _check_download_request(self, request: httpx.Request) -> None:
        # Every hop, redirects included, before a byte is sent to it.
        try:
            self._hosts.check_request(self.files, request)
        except result_hosts.HostRefused as e:
            raise ResultFileError(
                f"refusing to download results from {request.url.scheme}://{request.url.host} "
                f"({e}): result URLs must be https:// on a public host") from None

    def download(self, url: str, *, max_bytes: int, context: CallContext | None = None,
                 deadline: float | None = None) -> bytes:
        """The file at url, decoded, at most max_bytes; ResultFileError for what a new
        link may fix. context.on_billed (given for a vendor that bills downloads,
        Billing.results) hears each billed reply from its status line, as a
        query's: one cut short and fetched again is billed twice."""
        context = self.context(context, deadline)
        if redact.holds_secret(url):
            # A link that carries the key would hand it to whichever host it names.
            raise ResultFileError("the provider's result URL holds the API key; refusing "
                                  "to send it anywhere")
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as e:
            raise ResultFileError(f"the provider's result URL is not a valid URL ({e}); the "
                                  "next run asks for a new one") from None
        deadline = context.deadline
        backoff = self.backoff(deadline, context)
        meter = billed_calls.Meter(context.on_billed, "downloading the results")
        while True:
            try:
                response = self.request(self.files, "GET", url, deadline, span=DOWNLOAD_SPAN,
                                        max_bytes=max_bytes, peer_check=self._hosts.check_peer,
                                        on_status=meter.heard)
            except PeerRefused as e:
                raise ResultFileError(
                    f"refusing to download results from {httpx.URL(url).host}: it connected "
                    f"to {e}; result URLs must be https:// on a public host") from None
            except BodyTooLarge as e:
                raise ResultFileError(
                    f"the result file is larger than the size limit ({e.limit:,} bytes "
                    "decoded, what the numbers sent can take); the job stays open") from None
            except httpx.DecodingError:
                raise ResultFileError(
                    "the result file's Content-Encoding is damaged (a broken gzip body?); "
                    "the next run asks for a new link") from None
            except httpx.TooManyRedirects:
                raise ResultFileError("downloading the results: too many redirects") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
                raise ResultFileError(
                    f"the provider's result URL cannot be fetched ({e})") from None
            except httpx.TransportError as e:
                backoff.wait("downloading the results", last_error=type(e).__name__)
                continue
            if transient(response):
                backoff.wait("downloading the results",
                             retry_after_seconds(response.headers.get("Retry-After")),
                             f"HTTP {response.status_code}")
                continue
            if response.status_code != 200:
                raise ResultFileError(
                    f"downloading the results: HTTP {response.status_code} "
                    "(a presigned link may have expired; the next run asks for a new one)")
            return response.content
