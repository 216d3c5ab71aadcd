"""The ekycpro client: the vendor's HTTP protocol over httpx, as a Provider.

Billing shapes every choice here: a 200 costs money, 400/500 are free. So status
and download calls are retried freely on transient faults, but a create whose
request may have reached the server is never retried blindly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ... import billed_calls, bounded_http, connect, proxies, redact, result_hosts, server_errors
from ..._lean_httpx import httpx
from ...bounded_http import BodyTooLarge, PeerRefused
from ...connect import ConnectBudget
from ...errors import (
    ApiError,
    BadRequest,
    InsufficientBalance,
    KeyRefused,
    ResultFileError,
    TaskLost,
    TaskTooLarge,
    UncertainCreate,
)
from ...models import TaskStatus
from ...provider import Provider
from ...readers import readers
from ...retry import Backoff, retry_after_seconds
from ...settings import Settings, canonical_url, is_loopback
from .words import CREATE_IS_BILLED, STATUS_WORDS, TYPICAL_RATE

# A result file larger than this is refused rather than held in memory (the
# engine asks for less: what the numbers sent can plausibly take).
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
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
USER_AGENT = "tgcheck (+https://pypi.org/project/tgcheck/)"
# On create, these come from a gateway that gave up waiting: the task may exist.
GATEWAY_TIMEOUTS = (502, 504)
# Status replies that are 200 (billed) but unreadable, in a row, before giving up.
MAX_UNREADABLE_REPLIES = 5
# Counts above this are no task's (SQLite's integers end at 2**63).
MAX_COUNT = 10**12
# A gettasks refusal whose text says the task is unknown (some servers answer 400).
TASK_UNKNOWN = re.compile(r"task\W*(id\W*)?not\W*found|unknown\W*task|no\W*such\W*task",
                          re.IGNORECASE)


# A task id is put in forms, the journal, TSV and commands the user types:
# printable ASCII without spaces, of a sane length (the vendor's are 20 chars).
_TASK_ID = re.compile(r"[!-~]{1,200}")


def _safe_text(response: httpx.Response, limit: int = 300) -> str:
    """The provider's explanation of a reply, through the redaction point."""
    try:
        data = response.json()
        if isinstance(data, dict):
            for field in ("message", "error", "detail", "msg"):
                if isinstance(data.get(field), str):
                    return redact.clean(data[field], limit)
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        pass
    try:
        return redact.clean(response.text, limit)
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return "(unreadable body)"


def _int_field(record: dict, name: str) -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(f"the provider's {name!r} is not a number: {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        # Digits beyond any count are cut before int(): Python refuses to read
        # more than 4,300 of them, and a count of 31 digits is implausible anyway.
        value = int(value.strip()[:31])
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        # A count beyond any task (10**400) would overflow SQLite's integer and
        # crash the journal: a reply that cannot be right, said so.
        if not 0 <= value <= MAX_COUNT:
            raise ApiError(f"the provider's {name!r} is not a plausible count: "
                           f"{redact.clean(str(value), 40)}")
        return value
    raise ApiError(f"the provider's {name!r} is not a number: "
                   f"{redact.clean(repr(value), 40)}")


def _amount(record: dict, name: str) -> tuple[str | None, str | None]:
    """(decimal text, currency) of `{"amount": "1.90", "currency": "USD"}` or a bare number."""
    value = record.get(name)
    currency = None
    if isinstance(value, dict):
        currency = value.get("currency") if isinstance(value.get("currency"), str) else None
        value = value.get("amount")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, None
    if not amount.is_finite() or amount < 0:
        return None, None
    # "f": 1E+2 written as 100, as a person reads an amount.
    return format(amount, "f"), (currency.strip().upper()[:8] or None) if currency else None


def parse_task(data: object) -> TaskStatus:
    """Both documented shapes (full record; short create reply), and a `data` wrapper."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "task_id" not in data:
        data = data["data"]
    if not isinstance(data, dict):
        raise ApiError(f"the provider's reply is not a task record: {redact.clean(data, 80)}")
    task_id, status = data.get("task_id"), data.get("status")
    if not isinstance(task_id, str) or not task_id:
        raise ApiError("the provider's reply has no task_id")
    if not _TASK_ID.fullmatch(task_id) or redact.holds_secret(task_id):
        # Not stored, not polled: a tab would break the journal's TSV, an escape
        # the terminal, and an id holding the key would carry it everywhere.
        raise ApiError(f"the provider's task_id is not a plausible id: "
                       f"{redact.clean(repr(task_id), 80)}")
    if status is None:
        status = "pending"  # the short create reply may say nothing yet
    if not isinstance(status, str):
        raise ApiError(f"the provider's status is not text: {redact.clean(status, 40)}")
    url = data.get("result_url")
    if url is not None and not isinstance(url, str):
        raise ApiError("the provider's result_url is not text")
    message, created = data.get("message"), data.get("created_at")
    estimated, est_currency = _amount(data, "estimated_amount")
    actual, act_currency = _amount(data, "actual_amount")
    # Lowercased after masking would let a key in upper case through: clean()
    # masks in any case, and the word is lowercased after.
    word = redact.clean(status, 40).lower()
    return TaskStatus(
        task_id=task_id,
        status=word,
        state=STATUS_WORDS.get(word),  # None: a word the vendor never documented
        total=_int_field(data, "total"),
        success=_int_field(data, "success"),
        failure=_int_field(data, "failure"),
        result_url=url or None,
        message=redact.clean(message) if isinstance(message, str) else None,
        created_at=redact.clean(created, 40) if isinstance(created, str) else None,
        estimated_amount=estimated,
        actual_amount=actual,
        currency=redact.clean_optional(act_currency or est_currency, 16),
    )


class _BilledUnusable(Exception):  # noqa: N818 (what happened, as get_status reads it)
    """A billed (2xx) reply whose body never arrived whole."""


class EkycproProvider(Provider):
    name = "ekycpro"
    status_words = STATUS_WORDS
    typical_rate = TYPICAL_RATE
    create_is_billed = CREATE_IS_BILLED
    readers = readers()

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None,
                 resolver: result_hosts.Resolver | None = None):
        self.settings = settings
        # Result hosts are checked after resolution. A transport of the caller's
        # (tests) opens no socket: by default only IP literals are resolved then.
        self._hosts = result_hosts.Guard(
            api_is_loopback=is_loopback(settings.base_url),
            resolve=resolver or (result_hosts.literal_resolver if transport is not None
                                 else result_hosts.system_resolver))
        self.base_url = settings.base_url
        # The journal keys jobs by this: the embedded sandbox's URL changes each run;
        # otherwise canonical: `localhost` and `127.0.0.1`, `HOST:443` and `host`
        # are one server.
        self.identity = ("ekycpro:sandbox" if settings.sandbox
                         else f"ekycpro:{canonical_url(settings.base_url)}")
        self._key = settings.require_key()
        timeout = httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout))
        # A connection per request: the total deadline (bounded_http) holds by shutting
        # the request's own socket down, which it learns of when it is connected. Calls
        # are seconds apart (polling), so reusing connections would save little.
        limits = httpx.Limits(max_keepalive_connections=0)
        # One TLS context for both clients: each one built loads the CA bundle
        # again (0.02 s of CPU).
        tls = httpx.create_ssl_context()
        self._api = httpx.Client(
            base_url=self.base_url,
            headers={"X-API-Key": self._key, "User-Agent": USER_AGENT},
            timeout=timeout,
            limits=limits,
            verify=tls,
            transport=transport,
            # HTTP(S)_PROXY and NO_PROXY as httpx reads them; loopback always direct.
            mounts=None if transport is not None else proxies.direct_mounts(),
            follow_redirects=False,  # never carry the key to another host
        )
        # Downloads go to presigned URLs on other hosts: no key travels there.
        self._files = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=timeout,
            limits=limits,
            verify=tls,
            transport=transport,
            mounts=None if transport is not None else proxies.direct_mounts(),
            follow_redirects=True,
            max_redirects=5,
            event_hooks={"request": [self._check_download_request]},
        )

    def __repr__(self) -> str:
        return f"<EkycproProvider {redact.url_without_userinfo(self.base_url)}>"

    def close(self) -> None:
        self._api.close()
        self._files.close()

    def _deadline(self, deadline: float | None) -> float:
        return time.monotonic() + self.settings.timeout if deadline is None else deadline

    def _backoff(self, deadline: float | None) -> Backoff:
        # Every retry told to the listening caller (stderr, JSON progress).
        return connect.backoff(self._deadline(deadline), base=self.settings.retry_base)

    def _request(self, client: httpx.Client, method: str, url: str, deadline: float, *,
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

    def _connect_budget(self, deadline: float | None) -> ConnectBudget:
        if deadline is None:
            deadline = time.monotonic() + self.settings.timeout
        return ConnectBudget(self.settings.connect_budget, deadline,
                             base=self.settings.retry_base)

    def _raise_for_final(self, response: httpx.Response, what: str, *,
                         task_query: bool = False) -> None:
        code = response.status_code
        if 300 <= code < 400:
            # Not followed (the key would travel along), and not retried: a redirect
            # answers every retry the same way. Nothing was created by it.
            target = httpx.URL(response.headers.get("Location", ""))
            raise ApiError(f"{what}: the provider redirects (HTTP {code}) to "
                           f"{target.scheme}://{target.host}; check TGCHECK_BASE_URL")
        if code in (401, 403):
            raise KeyRefused(
                f"{what}: the provider refused the API key (HTTP {code}); check TGCHECK_API_KEY"
            )
        if 400 <= code < 500 and code not in (408, 425, 429):
            # The body is the server's: should it echo the key, it is cut out.
            text = _safe_text(response).replace(self._key, "***")
            if code == 402:
                raise InsufficientBalance(
                    f"{what}: insufficient balance at the provider (HTTP 402): {text}; "
                    "top up the account (`tgcheck balance` shows it); nothing was created "
                    "or billed")
            if code == 413:
                raise TaskTooLarge(f"{what}: the provider refused the file as too large "
                                   f"(HTTP 413): {text}")
            if task_query and (code == 404 or TASK_UNKNOWN.search(text)):
                raise TaskLost(f"{what}: the provider does not know this task "
                               f"(HTTP {code}): {text}")
            raise BadRequest(f"{what}: the provider refused the request (HTTP {code}): {text}")

    def _not_a_status_endpoint(self, response: httpx.Response,
                               what: str) -> server_errors.WrongEndpoint | None:
        # 404 on gettasks is the vendor's "task not found" (TaskLost): not here.
        if response.status_code in (405, 501):
            return server_errors.not_this_endpoint(response, what, self.base_url)
        return None

    @staticmethod
    def _transient(response: httpx.Response) -> bool:
        return response.status_code in (408, 425, 429) or response.status_code >= 500

    # -- create: never retried once the request may have been received --------
    def create_task(self, numbers: Sequence[str], task_type: str, *,
                    deadline: float | None = None) -> TaskStatus:
        sending = {"sent": False}
        try:
            return self._create_task(numbers, task_type, deadline, sending)
        except KeyboardInterrupt as e:
            # Ctrl-C: whether the create may have landed is the engine's to know.
            # Before any byte of this attempt left (connecting, between retries),
            # nothing can have been created.
            if not sending["sent"]:
                e.request_sent = False
            raise

    def _create_task(self, numbers, task_type, deadline, sending: dict) -> TaskStatus:
        body = ("\n".join(numbers) + "\n").encode()
        deadline = self._deadline(deadline)
        # A stop asked for while waiting to retry (429, 5xx: nothing created)
        # sends nothing more: a create is started again only by the next run.
        backoff = connect.backoff(deadline, base=self.settings.retry_base)
        connecting = self._connect_budget(deadline)
        failing = server_errors.ServerErrorBudget(
            self.settings.server_error_budget, deadline, base=self.settings.retry_base,
            base_url=self.base_url)

        def trace(name: str, info) -> None:  # httpcore's trace extension
            if name.endswith("send_request_headers.started"):
                sending["sent"] = True  # from here on, the request may reach the provider

        while True:
            sending["sent"] = False
            try:
                response = self._request(
                    self._api, "POST", "/v1/tasks", deadline,
                    files={"file": ("numbers.txt", body, "text/plain")},
                    data={"task_type": task_type},
                    extensions={"trace": trace},
                )
            except (BodyTooLarge, httpx.DecodingError) as e:
                raise UncertainCreate(
                    f"creating the task: the reply could not be read ({e}); "
                    "the task may exist and be billed") from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                # Nothing reached the server: safe to try again, for a short while.
                connecting.failed(e, self.base_url, "creating the task")
                continue
            except httpx.TransportError as e:
                raise UncertainCreate(
                    f"creating the task: the connection failed after the request was sent "
                    f"({type(e).__name__}); the task may exist and be billed"
                ) from None
            if response.status_code in GATEWAY_TIMEOUTS:
                # From a proxy in front of the provider, which may have received
                # the file and created the task after the proxy gave up.
                raise UncertainCreate(
                    f"creating the task: HTTP {response.status_code} from a gateway; the "
                    "provider behind it may have created the task, and billed it")
            wrong = server_errors.not_this_endpoint(response, "creating the task",
                                                    self.base_url)
            if wrong is not None:
                raise wrong  # 404/405/501: no retry changes it; nothing was created
            if self._transient(response):
                # 429 and the provider's own 5xx are free and create nothing: retry,
                # 5xx only within the server-error budget, not for hours.
                sending["sent"] = False
                if response.status_code >= 500:
                    failing.failed(response, "creating the task")
                else:
                    backoff.wait("creating the task",
                                 retry_after_seconds(response.headers.get("Retry-After")),
                                 f"HTTP {response.status_code}")
                continue
            self._raise_for_final(response, "creating the task")
            if 200 <= response.status_code < 300 and server_errors.is_html(response):
                # A web page, not the API; kept uncertain all the same: a 2xx is
                # what the vendor bills.
                raise UncertainCreate(
                    f"creating the task: {redact.url_without_userinfo(self.base_url)} "
                    f"answered HTTP {response.status_code} with a web page, not the API's "
                    "reply: check the base URL (TGCHECK_BASE_URL or --base-url); if it is "
                    "right, the task may exist and be billed")
            # 200 (older deployments) and 202 (newer) alike: a 2xx with a task id
            # is a created, charged task.
            if not 200 <= response.status_code < 300:
                raise UncertainCreate(
                    f"creating the task: unexpected HTTP {response.status_code}")
            try:
                return parse_task(response.json())
            except (ValueError, ApiError) as e:
                raise UncertainCreate(
                    f"creating the task: the reply could not be read ({e}); "
                    "the task may exist and be billed") from None

    # -- status and download: idempotent, retried until the deadline ----------
    def _try_api(self, what: str, method: str, path: str, deadline: float, backoff: Backoff,
                 connecting: ConnectBudget, meter: billed_calls.Meter,
                 **kwargs) -> httpx.Response | None:
        """One try of an API call that may be repeated (status, balance): the reply,
        or None after waiting out what left nothing billed (a failed connect, a
        dropped connection, 429 or 5xx); the caller then tries again. A reply whose
        status line was 2xx is billed (counted by the meter as it arrives); if its
        body then fails (cut short, past the deadline), BilledUnusable is raised for
        the caller to count against its unreadable replies. Unreadable bodies
        (BodyTooLarge, httpx.DecodingError) are the caller's to judge."""
        meter.start()  # BudgetSpent: a billed reply came back and the budget is used up
        try:
            response = self._request(self._api, method, path, deadline,
                                     on_status=meter.heard, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            connecting.failed(e, self.base_url, what)
            return None
        except httpx.TransportError as e:
            if meter.last_billed:
                raise _BilledUnusable(f"the reply was cut off ({type(e).__name__})") from None
            backoff.wait(what, last_error=type(e).__name__)
            return None
        if self._transient(response):
            backoff.wait(what, retry_after_seconds(response.headers.get("Retry-After")),
                         f"HTTP {response.status_code}")
            return None
        return response

    def get_status(self, task_id: str, *, deadline: float | None = None,
                   on_billed=None) -> TaskStatus:
        deadline = self._deadline(deadline)
        backoff = self._backoff(deadline)
        what = f"asking for task {task_id}"
        unreadable = 0
        connecting = self._connect_budget(deadline)
        # Each paid reply counts from its status line, whatever its body does next.
        meter = billed_calls.Meter(on_billed, what)
        while True:
            try:
                # multipart/form-data, as the vendor's curl --form example sends it
                response = self._try_api(what, "POST", "/v1/gettasks", deadline, backoff,
                                         connecting, meter, files={"task_id": (None, task_id)})
            except BodyTooLarge as e:
                # Paid, but no status reply is a megabyte: like any unreadable reply.
                response = httpx.Response(200, text=f"(a reply {e}; a status reply is a "
                                                    "few hundred bytes)")
            except httpx.DecodingError:
                # Paid, but a body whose gzip is broken: like any unreadable reply.
                response = httpx.Response(200, text="(a body with a broken Content-Encoding)")
            except _BilledUnusable as e:
                # Paid, but cut short or trickling past its deadline.
                response = httpx.Response(200, text=f"({e})")
            if response is None:
                continue  # nothing billed happened: try again
            wrong = self._not_a_status_endpoint(response, what)
            if wrong is not None:
                raise wrong
            self._raise_for_final(response, what, task_query=True)
            try:
                record = parse_task(response.json())
            except (ValueError, UnicodeDecodeError):
                # A broken body (truncated, an HTML error page): paid, but retry,
                # a few times only: a maintenance page could answer for hours.
                unreadable += 1
                if unreadable >= MAX_UNREADABLE_REPLIES:
                    raise ApiError(
                        f"{what}: {unreadable} replies in a row could not be read "
                        f"(HTTP {response.status_code}: {_safe_text(response, 80)!r}); the "
                        "job stays open: run the same check again later") from None
                backoff.wait(what, last_error="unreadable reply")
                continue
            if record.task_id != task_id:
                raise ApiError(f"{what}: the provider answered for another task")
            return record

    # -- balance -------------------------------------------------------------
    def balance(self, *, deadline: float | None = None) -> tuple[str, str | None]:
        """(decimal text, currency or None) from GET /v1/balance.

        The sister platform documents no charge for it; the vendor bills "every
        200", so the CLI says it may be billed."""
        deadline = self._deadline(deadline)
        backoff = self._backoff(deadline)
        what = "asking for the balance"
        connecting = self._connect_budget(deadline)
        meter = billed_calls.Meter(None, what)
        while True:
            try:
                response = self._try_api(what, "GET", "/v1/balance", deadline, backoff,
                                         connecting, meter)
            except (BodyTooLarge, httpx.DecodingError, _BilledUnusable) as e:
                raise ApiError(f"{what}: the reply could not be read ({e})") from None
            if response is None:
                continue  # nothing billed happened: try again
            if response.status_code == 404:
                raise ApiError(f"{what}: this provider has no /v1/balance (HTTP 404)")
            self._raise_for_final(response, what)
            try:
                data = response.json()
            except (ValueError, UnicodeDecodeError):
                data = None
            amount, currency = _amount(data, "balance") if isinstance(data, dict) else (None,
                                                                                         None)
            if amount is None:
                raise ApiError(f"{what}: the reply holds no balance "
                               f"({_safe_text(response, 80)!r})")
            if currency is None and isinstance(data.get("currency"), str):
                currency = data["currency"].strip().upper()[:8] or None
            return amount, redact.clean_optional(currency, 16)

    def _check_download_request(self, request: httpx.Request) -> None:
        # Every hop, redirects included, before a byte is sent to it.
        try:
            self._hosts.check_request(self._files, request)
        except result_hosts.HostRefused as e:
            raise ResultFileError(
                f"refusing to download results from {request.url.scheme}://{request.url.host} "
                f"({e}): result URLs must be https:// on a public host") from None


    def download(self, url: str, *, deadline: float | None = None,
                 max_bytes: int | None = None) -> bytes:
        """The result file at url, decoded; max_bytes (if given) bounds it below
        MAX_DOWNLOAD_BYTES."""
        if redact.holds_secret(url):
            # A link that carries the key would hand it to whichever host it names.
            raise ResultFileError("the provider's result URL holds the API key; refusing "
                                  "to send it anywhere")
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as e:
            raise ResultFileError(f"the provider's result URL is not a valid URL ({e}); the "
                                  "next run asks for a new one") from None
        limit = MAX_DOWNLOAD_BYTES if max_bytes is None else min(max_bytes, MAX_DOWNLOAD_BYTES)
        deadline = self._deadline(deadline)
        backoff = self._backoff(deadline)
        while True:
            try:
                response = self._request(self._files, "GET", url, deadline,
                                         span=DOWNLOAD_SPAN, max_bytes=limit,
                                         peer_check=self._hosts.check_peer)
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
            if self._transient(response):
                backoff.wait("downloading the results",
                             retry_after_seconds(response.headers.get("Retry-After")),
                             f"HTTP {response.status_code}")
                continue
            if response.status_code != 200:
                raise ResultFileError(
                    f"downloading the results: HTTP {response.status_code} "
                    "(a presigned link may have expired; the next run asks for a new one)")
            return response.content

