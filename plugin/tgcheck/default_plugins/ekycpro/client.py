"""The ekycpro client: the vendor's HTTP protocol, as a Provider.

Billing shapes every choice here: a 200 costs money, 400/500 are free. So status
and download calls are retried freely on transient faults, but a create whose
request may have reached the server is never retried blindly. The core's wire
(tgcheck.wire) does all of that; this module says what ekycpro's requests are,
how its replies read and what its refusals mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ... import redact, result_hosts
from ..._lean_httpx import httpx
from ...errors import (
    ApiError,
)
from ...models import TaskStatus
from ...provider import CallContext, Provider, plausible_id
from ...readers import readers
from ...settings import Settings, canonical_url
from ...wire import Call, Errors, Wire
from .words import BILLING, STATUS_WORDS, TYPICAL_RATE

# A result file larger than this is refused rather than held in memory (the
# engine asks for less: what the numbers sent can plausibly take).
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
USER_AGENT = "tgcheck (+https://pypi.org/project/tgcheck/)"
# Counts above this are no task's (SQLite's integers end at 2**63).
MAX_COUNT = 10**12
# A gettasks refusal whose text says the task is unknown (some servers answer 400).
TASK_UNKNOWN = re.compile(r"task\W*(id\W*)?not\W*found|unknown\W*task|no\W*such\W*task",
                          re.IGNORECASE)


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
    if not plausible_id(task_id):
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


class EkycproProvider(Provider):
    name = "ekycpro"
    status_words = STATUS_WORDS
    typical_rate = TYPICAL_RATE
    billing = BILLING
    readers = readers()

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None,
                 resolver: result_hosts.Resolver | None = None, *,
                 max_download_bytes: int = MAX_DOWNLOAD_BYTES):
        """max_download_bytes: the largest result file taken (a tuning value: a
        parameter, so a test passes a smaller one instead of patching the module)."""
        self.settings = settings
        self.max_download_bytes = max_download_bytes
        self.base_url = settings.base_url
        # The journal keys jobs by this: the embedded sandbox's URL changes each run;
        # otherwise canonical: `localhost` and `127.0.0.1`, `HOST:443` and `host`
        # are one server.
        self.identity = ("ekycpro:sandbox" if settings.sandbox
                         else f"ekycpro:{canonical_url(settings.base_url)}")
        self._key = settings.require_key()
        self._wire = Wire(settings, base_url=self.base_url, secret=self._key,
                          secret_headers={"X-API-Key": self._key}, user_agent=USER_AGENT,
                          errors=Errors(lost_words=TASK_UNKNOWN),
                          transport=transport, resolver=resolver)

    def __repr__(self) -> str:
        return f"<EkycproProvider {redact.url_without_userinfo(self.base_url)}>"

    def close(self) -> None:
        self._wire.close()

    # -- create: never retried once the request may have been received --------
    def create_task(self, numbers: Sequence[str], task_type: str, *,
                    context: CallContext | None = None) -> TaskStatus:
        body = ("\n".join(numbers) + "\n").encode()
        call = Call("creating the task", "POST", "/v1/tasks",
                    files={"file": ("numbers.txt", body, "text/plain")},
                    data={"task_type": task_type})
        # 200 (older deployments) and 202 (newer) alike: a 2xx with a task id is a
        # created, charged task.
        return self._wire.create(call, context=context,
                                 read=lambda response: parse_task(response.json()))

    # -- status and download: idempotent, retried until the deadline ----------
    def get_status(self, task_id: str, *, context: CallContext | None = None) -> TaskStatus:
        what = f"asking for task {task_id}"
        # multipart/form-data, as the vendor's curl --form example sends it
        call = Call(what, "POST", "/v1/gettasks", files={"task_id": (None, task_id)})
        record = self._wire.query(call, context=context, lost=True,
                                  read=lambda response: parse_task(response.json()))
        if record.task_id != task_id:
            raise ApiError(f"{what}: the provider answered for another task")
        return record

    # -- balance -------------------------------------------------------------
    def balance(self, *, deadline: float | None = None) -> tuple[str, str | None]:
        """(decimal text, currency or None) from GET /v1/balance.

        The sister platform documents no charge for it; the vendor bills "every
        200", so the CLI says it may be billed."""
        what = "asking for the balance"

        def refuse(response: httpx.Response, what: str) -> None:
            if response.status_code == 404:
                raise ApiError(f"{what}: this provider has no /v1/balance (HTTP 404)")
            self._wire.refuse(response, what)

        def read(response: httpx.Response) -> tuple[str, str | None]:
            try:
                data = response.json()
            except (ValueError, UnicodeDecodeError):
                data = None
            amount, currency = (_amount(data, "balance") if isinstance(data, dict)
                                else (None, None))
            if amount is None:
                raise ApiError(f"{what}: the reply holds no balance "
                               f"({self._wire.reply_text(response, 80)!r})")
            if currency is None and isinstance(data.get("currency"), str):
                currency = data["currency"].strip().upper()[:8] or None
            return amount, redact.clean_optional(currency, 16)

        return self._wire.query(Call(what, "GET", "/v1/balance"), deadline=deadline,
                                refuse=refuse, read=read, max_unreadable=1)

    def download(self, url: str, *, context: CallContext | None = None,
                 max_bytes: int | None = None) -> bytes:
        """The result file at url, decoded; max_bytes (if given) bounds it below
        max_download_bytes."""
        most = self.max_download_bytes
        limit = most if max_bytes is None else min(max_bytes, most)
        return self._wire.download(url, context=context, max_bytes=limit)
