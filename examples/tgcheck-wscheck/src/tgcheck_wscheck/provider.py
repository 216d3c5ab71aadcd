"""The sister platform's HTTP protocol, described for tgcheck's wire.

What to send and how to read the platform's replies is here; the core's wire
(tgcheck.plugin.Wire) makes every call: deadlines, body caps, retries with
Retry-After, the connect budget, whether a create may have reached the platform
(it is then never sent again), billed replies counted from their status line,
redaction, result-link checks and proxies. Its refusals are the wire's default
error table (tgcheck.plugin.Errors: 401/403 a refused key, 402 no balance, 413
too large, 404 on a status call a lost task, any other 4xx a free refusal),
which is what the platform's openapi.yaml documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import httpx

from tgcheck.plugin import (
    FAILED,
    QUEUED,
    READY,
    RUNNING,
    ApiError,
    Call,
    CallContext,
    Provider,
    TaskStatus,
    Wire,
    canonical_url,
    clean,
    plausible_id,
)

DEFAULT_BASE_URL = "https://api.checknumber.ai"
USER_AGENT = "tgcheck-wscheck"
# A result file is about 50 bytes a number: a cap all the same.
MAX_FILE_BYTES = 512 * 1024 * 1024
# Counts beyond any task would overflow the journal's integers.
MAX_COUNT = 10**12
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
        raise ApiError("the platform's reply is not a task object")
    if not plausible_id(data["task_id"]):
        # It goes into forms, the journal and commands users type: printable, sane.
        raise ApiError("the platform's task_id is not a plausible id")

    def count(name: str) -> int | None:
        value = data.get(name)
        plausible = isinstance(value, int) and not isinstance(value, bool)
        return value if plausible and 0 <= value <= MAX_COUNT else None

    estimated, currency = _money(data.get("estimated_amount"))
    actual, actual_currency = _money(data.get("actual_amount"))
    status, url, message = data.get("status"), data.get("result_url"), data.get("message")
    # Server text passes the redaction point: a key echoed back goes no further.
    word = clean(status, 40).lower() if isinstance(status, str) else "pending"
    return TaskStatus(
        task_id=data["task_id"],
        status=word,
        state=STATUS_WORDS.get(word),  # None: a word it does not document (polled as queued)
        total=count("total"), success=count("success"), failure=count("failure"),
        result_url=url if isinstance(url, str) and url else None,
        message=clean(message, 300) if isinstance(message, str) else None,
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
    # Its result file (a zip holding one CSV) is read by the core's generic readers,
    # registered with the provider (__init__.py).

    def __init__(self, settings):
        self.settings = settings
        # TGCHECK_BASE_URL, else DEFAULT_BASE_URL (registered in __init__.py).
        self.base_url = settings.base_url
        # The journal keys jobs by this: a job is only attached to on its own server,
        # whichever way its URL is spelled.
        self.identity = ("wscheck:sandbox" if settings.sandbox
                         else f"wscheck:{canonical_url(self.base_url)}")
        key = settings.require_key()
        self._wire = Wire(settings, base_url=self.base_url, secret=key,
                          secret_headers={"X-API-Key": key}, user_agent=USER_AGENT)

    def close(self) -> None:
        self._wire.close()

    # -- the calls ---------------------------------------------------------
    def create_task(self, numbers: Sequence[str], task_type: str, *,
                    context: CallContext | None = None) -> TaskStatus:
        body = ("\n".join(numbers) + "\n").encode()
        call = Call("creating the task", "POST", "/v1/tasks", data={"task_type": task_type},
                    files={"file": ("numbers.txt", body, "text/plain")})
        # 202 (or 200 on older deployments): created and charged.
        return self._wire.create(call, context=context,
                                 read=lambda reply: parse_task(reply.json()))

    def get_status(self, task_id: str, *, context: CallContext | None = None) -> TaskStatus:
        what = f"asking for task {task_id}"
        call = Call(what, "POST", "/v1/gettasks", files={"task_id": (None, task_id)})
        record = self._wire.query(call, context=context, lost=True,  # 404: a lost task
                                  read=lambda reply: parse_task(reply.json()))
        if record.task_id != task_id:
            raise ApiError(f"{what}: the platform answered for another task")
        return record

    def balance(self, *, deadline: float | None = None) -> tuple[str, str | None]:
        def read(reply: httpx.Response) -> tuple[str, str]:
            data = reply.json()
            amount, _ = _money({"amount": data.get("balance")} if isinstance(data, dict)
                               else None)
            if amount is None:
                raise ApiError("asking for the balance: the reply holds no balance")
            return amount, "USD"

        return self._wire.query(Call("asking for the balance", "GET", "/v1/balance"),
                                deadline=deadline, read=read, max_unreadable=1)

    def download(self, url: str, *, context: CallContext | None = None,
                 max_bytes: int | None = None) -> bytes:
        return self._wire.download(url, context=context,
                                   max_bytes=min(max_bytes or MAX_FILE_BYTES, MAX_FILE_BYTES))
