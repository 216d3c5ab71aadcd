"""The sister platform's HTTP protocol over httpx.

Money decides each retry: a 2xx create or status reply is charged, a refusal is
free. So a create is sent again only when it cannot have reached the platform
(no connection) or the platform said it created nothing (429, 500, 503); status
calls and downloads are retried until the job's deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

import httpx

from tgcheck import bounded_http, errors, redact, result_hosts
from tgcheck.connect import ConnectBudget
from tgcheck.default_plugins.ekycpro.readers import readers as ekycpro_readers
from tgcheck.models import TaskStatus
from tgcheck.provider import FAILED, QUEUED, READY, RUNNING, Provider
from tgcheck.retry import Backoff, retry_after_seconds
from tgcheck.settings import canonical_url, is_loopback

DEFAULT_BASE_URL = "https://api.checknumber.ai"
USER_AGENT = "tgcheck-wscheck"
# Free and creating nothing: safe to send again, also a create.
RETRIED = (429, 500, 503)
# A reply is a few hundred bytes, a result file 50 bytes a number: a cap on both.
MAX_REPLY_BYTES = 1024 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024
# Counts beyond any task would overflow the journal's integers.
MAX_COUNT = 10**12
_TASK_ID = re.compile(r"[!-~]{1,200}")
# The platform's status words (openapi.yaml `Task.status`) as tgcheck's states.
STATUS_WORDS = {"pending": QUEUED, "processing": RUNNING, "exported": READY, "failed": FAILED}


def _money(value: object) -> tuple[str | None, str | None]:
    """(decimal text, currency) of `{"amount": "1.90", "currency": "USD"}`."""
    if not isinstance(value, dict):
        return None, None
    try:
        amount = Decimal(str(value.get("amount")))
    except InvalidOperation:
        return None, None
    currency = value.get("currency")
    return (format(amount, "f") if amount.is_finite() and amount >= 0 else None,
            currency.upper()[:8] if isinstance(currency, str) else None)


def parse_task(data: object) -> TaskStatus:
    """The platform's task object (openapi.yaml `Task`) as tgcheck's TaskStatus."""
    if not isinstance(data, dict) or not isinstance(data.get("task_id"), str):
        raise errors.ApiError("the platform's reply is not a task object")
    if not _TASK_ID.fullmatch(data["task_id"]) or redact.holds_secret(data["task_id"]):
        # It goes into forms, the journal and commands users type: printable, sane.
        raise errors.ApiError("the platform's task_id is not a plausible id")

    def count(name: str) -> int | None:
        value = data.get(name)
        plausible = isinstance(value, int) and not isinstance(value, bool)
        return value if plausible and 0 <= value <= MAX_COUNT else None

    estimated, currency = _money(data.get("estimated_amount"))
    actual, actual_currency = _money(data.get("actual_amount"))
    status, url, message = data.get("status"), data.get("result_url"), data.get("message")
    # Server text passes the redaction point: a key echoed back goes no further.
    word = redact.clean(status, 40).lower() if isinstance(status, str) else "pending"
    return TaskStatus(
        task_id=data["task_id"],
        status=word,
        state=STATUS_WORDS.get(word),  # None: a word it does not document (polled as queued)
        total=count("total"), success=count("success"), failure=count("failure"),
        result_url=url if isinstance(url, str) and url else None,
        message=redact.clean(message, 300) if isinstance(message, str) else None,
        estimated_amount=estimated, actual_amount=actual,
        currency=actual_currency or currency,
    )


class WscheckProvider(Provider):
    """The platform, for tgcheck's engine: create, status, download, balance.

    The contract is tgcheck.provider.Provider's docstrings; this class adds only
    the platform's words, URLs and refusals.
    """

    name = "wscheck"
    status_words = STATUS_WORDS
    # Its result file is a zip holding one CSV, as ekycpro's newer deployments send
    # (`number`, then the task type's columns): ekycpro's readers read it, with
    # their guards against zip bombs and broken files.
    readers = ekycpro_readers()

    def __init__(self, settings):
        self.settings = settings
        # TGCHECK_BASE_URL, else DEFAULT_BASE_URL (registered in __init__.py).
        self.base_url = settings.base_url
        # The journal keys jobs by this: a job is only attached to on its own server,
        # whichever way its URL is spelled.
        self.identity = ("wscheck:sandbox" if settings.sandbox
                         else f"wscheck:{canonical_url(self.base_url)}")
        self._key = settings.require_key()
        timeout = httpx.Timeout(settings.http_timeout)
        self._api = httpx.Client(base_url=self.base_url, timeout=timeout,
                                 headers={"X-API-Key": self._key, "User-Agent": USER_AGENT},
                                 follow_redirects=False)  # the key stays on this host
        # Result links point elsewhere (presigned storage): no key travels there,
        # and every hop, redirects included, is checked before a byte is sent.
        self._files = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT},
                                   follow_redirects=True, max_redirects=5,
                                   event_hooks={"request": [self._check_link]})

    def close(self) -> None:
        self._api.close()
        self._files.close()

    # -- the calls ---------------------------------------------------------
    def create_task(self, numbers: Sequence[str], task_type: str, *,
                    deadline: float | None = None) -> TaskStatus:
        body = ("\n".join(numbers) + "\n").encode()
        sent: list = []  # set once the request's headers go out: the task may exist
        try:
            reply = self._call("creating the task", deadline, sent=sent, method="POST",
                               url="/v1/tasks", data={"task_type": task_type},
                               files={"file": ("numbers.txt", body, "text/plain")})
        except KeyboardInterrupt as e:
            if not sent:  # Ctrl-C before a byte left: the engine may create it later
                e.request_sent = False
            raise
        try:
            return parse_task(reply.json())  # 200 (older) or 202: created and charged
        except (ValueError, errors.ApiError) as e:
            raise errors.UncertainCreate(f"creating the task: the reply could not be read "
                                         f"({e}); the task may exist and be charged") from None

    def get_status(self, task_id: str, *, deadline: float | None = None,
                   on_billed: Callable[[], None] | None = None) -> TaskStatus:
        what = f"asking for task {task_id}"
        reply = self._call(what, deadline, method="POST", url="/v1/gettasks",
                           files={"task_id": (None, task_id)})
        if on_billed is not None:
            on_billed()
        try:
            record = parse_task(reply.json())
        except ValueError:
            raise errors.ApiError(f"{what}: the reply is not JSON") from None
        if record.task_id != task_id:
            raise errors.ApiError(f"{what}: the platform answered for another task")
        return record

    def balance(self, *, deadline: float | None = None) -> tuple[str, str | None]:
        reply = self._call("asking for the balance", deadline, method="GET", url="/v1/balance")
        try:
            amount, _ = _money({"amount": reply.json().get("balance")})
        except (ValueError, AttributeError):
            amount = None
        if amount is None:
            raise errors.ApiError("asking for the balance: the reply holds no balance")
        return amount, "USD"

    def download(self, url: str, *, deadline: float | None = None,
                 max_bytes: int | None = None) -> bytes:
        reply = self._call("downloading the results", deadline, client=self._files,
                           method="GET", url=url, max_bytes=max_bytes or MAX_FILE_BYTES)
        return reply.content

    def _check_link(self, request: httpx.Request) -> None:
        try:
            # https:// to a public host only (plain http to loopback when the API is
            # there too: the sandbox): a link must not make us read a private service.
            result_hosts.check_url(str(request.url), api_is_loopback=is_loopback(self.base_url),
                                   resolve=result_hosts.system_resolver)
        except result_hosts.HostRefused as e:
            raise errors.ResultFileError(f"refusing the result link to {request.url.host} "
                                         f"({e})") from None

    # -- one request, retried as the money allows ------------------------------
    def _call(self, what: str, deadline: float | None, *, method: str, url: str,
              sent: list | None = None, client: httpx.Client | None = None,
              max_bytes: int = MAX_REPLY_BYTES, **fields) -> httpx.Response:
        """One call; sent (a create's) gets an item once its request may have
        reached the platform: from then on it is never sent again."""
        create = sent is not None
        deadline = deadline or time.monotonic() + self.settings.timeout
        backoff = Backoff(deadline, base=self.settings.retry_base)
        # A platform that cannot be reached at all is given TGCHECK_CONNECT_BUDGET.
        connecting = ConnectBudget(self.settings.connect_budget, deadline,
                                   base=self.settings.retry_base)
        mark = sent if create else []

        def trace(event: str, info: dict) -> None:  # httpcore's trace extension
            if event.endswith("send_request_headers.started"):
                mark.append(True)

        while True:
            try:
                reply = bounded_http.request(
                    client or self._api, method, url, max_bytes=max_bytes,
                    total=max(1.0, min(deadline - time.monotonic(),
                                       2 * self.settings.http_timeout)),
                    read=self.settings.http_timeout, extensions={"trace": trace}, **fields)
            except bounded_http.BodyTooLarge as e:
                raise (errors.UncertainCreate if create else errors.ApiError)(
                    f"{what}: the reply is {e}") from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                connecting.failed(e, self.base_url, what)  # nothing was sent
                continue
            except httpx.TransportError as e:
                if create and mark:
                    raise errors.UncertainCreate(
                        f"{what}: the connection failed after the file was sent "
                        f"({type(e).__name__}); the task may exist and be charged") from None
                backoff.wait(what, last_error=type(e).__name__)
                continue
            code = reply.status_code
            if code in RETRIED or (code >= 500 and not create):
                mark.clear()  # refused: nothing was created
                backoff.wait(what, retry_after_seconds(reply.headers.get("Retry-After")),
                             f"HTTP {code}")
                continue
            if 200 <= code < 300:
                return reply
            self._refuse(what, reply, create)

    def _refuse(self, what: str, reply: httpx.Response, create: bool) -> None:
        code = reply.status_code
        try:
            text = redact.clean(str(reply.json().get("message", "")), 200)
        except (ValueError, AttributeError):
            text = ""
        said = f" (HTTP {code}: {text})" if text else f" (HTTP {code})"
        if code == 401:
            raise errors.KeyRefused(f"{what}: the platform refused the API key{said}")
        if code == 402:
            raise errors.InsufficientBalance(f"{what}: insufficient balance{said}; "
                                             "nothing was created or charged")
        if code == 404 and what.startswith("asking for task"):
            raise errors.TaskLost(f"{what}: the platform does not know this task{said}")
        if code == 413:
            raise errors.TaskTooLarge(f"{what}: the file is too large for the platform{said}")
        if create and code >= 500:
            # 502/504 come from a gateway that gave up: the platform behind it may
            # have created the task.
            raise errors.UncertainCreate(f"{what}: no answer from the platform{said}; "
                                         "the task may exist and be charged")
        if what.startswith("downloading"):
            raise errors.ResultFileError(f"{what}: refused{said}; the next run asks for a "
                                         "new link")
        raise errors.BadRequest(f"{what}: the platform refused the request{said}")
