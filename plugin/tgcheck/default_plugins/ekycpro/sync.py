"""ekycpro's synchronous check, POST {TGCHECK_SYNC_URL}/v1/check (api notes, section 8):
one number a call, answered from the vendor's cache, billed only when determined.

A description of the call and its replies: the core's wire (tgcheck.wire) makes
the call, the bulk client's error table reads refusals, and the fast path
(tgcheck.fast_path) owns the concurrency, the rate limit and what becomes of a
number without an answer.
"""

from __future__ import annotations

import functools
import time

from ... import redact
from ..._lean_httpx import httpx
from ...errors import ApiError, ConfigError, InsufficientBalance, KeyRefused
from ...provider import CallContext, SyncCheck, SyncReply
from ...settings import Settings, canonical_url, check_url_scheme, is_loopback
from ...wire import Call, Wire
from .client import USER_AGENT

# The host the vendor's Telegram page documents for /v1/check.
DEFAULT_SYNC_URL = "https://api.ekycpro.ai"
# A check's reply is a few hundred bytes.
MAX_REPLY_BYTES = 64 * 1024
# One call may take this long at most: a slow answer is not worth more than a
# task's place for that number.
CALL_SECONDS = 15.0
TASK_TYPES = frozenset({"tg"})


def sync_url(settings: Settings) -> str | None:
    """Where /v1/check is asked, or None (no fast path).

    TGCHECK_SYNC_URL when set; the embedded sandbox (--sandbox) answers it
    itself; a base URL on loopback (a sandbox started by hand, a test server)
    without TGCHECK_SYNC_URL has none, so that simulated numbers are never sent
    to the vendor's host; else the vendor's documented host.
    """
    if settings.sync_max <= 0:
        return None
    given = settings.extra.get("sync_url")
    if given:
        url = str(given).rstrip("/")
        check_url_scheme(url, "TGCHECK_SYNC_URL")
        if is_loopback(settings.base_url) and not is_loopback(url):
            raise ConfigError("TGCHECK_SYNC_URL must be on loopback too while TGCHECK_BASE_URL "
                              "is (a sandbox's answers are simulated; real ones must not mix "
                              "with them)")
        return url
    if settings.sandbox:
        return settings.base_url
    if is_loopback(settings.base_url):
        return None
    return DEFAULT_SYNC_URL


def factory(settings: Settings):
    """Provider.sync for these settings: a new EkycproSync per check, or None."""
    url = sync_url(settings)
    if url is None:
        return None
    make = functools.partial(EkycproSync, settings, url)
    make.task_types = EkycproSync.task_types  # read before any check is made
    return make


class EkycproSync(SyncCheck):
    task_types = TASK_TYPES

    def __init__(self, settings: Settings, url: str,
                 transport: httpx.BaseTransport | None = None):
        self.settings, self.url = settings, url
        self.identity = ("ekycpro-sync:sandbox" if settings.sandbox
                         else f"ekycpro-sync:{canonical_url(url)}")
        key = settings.require_key()
        self._wire = Wire(settings, base_url=url, secret=key,
                          secret_headers={"X-API-Key": key}, user_agent=USER_AGENT,
                          transport=transport)

    def __repr__(self) -> str:
        return f"<EkycproSync {redact.url_without_userinfo(self.url)}>"

    def close(self) -> None:
        self._wire.close()

    def _refuse(self, response: httpx.Response, what: str) -> None:
        """The wire's error table (the bulk client's codes); of it, only a refused key and an empty
        balance stop the check: anything else (a redirect, 400, 404) is free and
        leaves the number to the task."""
        try:
            self._wire.refuse(response, what)
        except (KeyRefused, InsufficientBalance):
            raise
        except ApiError:
            pass

    def check(self, number: str, task_type: str, *, context: CallContext) -> SyncReply:
        call = Call(f"checking a number at {redact.url_without_userinfo(self.url)}",
                    "POST", "/v1/check", max_bytes=MAX_REPLY_BYTES,
                    json={"service_type": task_type, "identifier": number})
        deadline = min(context.deadline, time.monotonic() + CALL_SECONDS)
        # No answer at all (a timeout, a drop, a 5xx, a 429, a 200 cut short) is
        # the wire's NoAnswer: the fast path reads it (tgcheck.fast_path).
        return self._wire.once(call, deadline=deadline,
                               refuse=self._refuse, read=lambda r: _read(r, number))


def _read(response: httpx.Response, number: str) -> SyncReply:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return SyncReply(billed=True)  # a paid 200 we cannot read: counted
    return _reply(body, number)


def _reply(body: object, number: str) -> SyncReply:
    """A 200's body: registered true/false is an answer, success false (a miss,
    undetermined) none; each billed as it says, else by the declared rule
    (billing.DETERMINED: only an answer is billed)."""
    if not isinstance(body, dict):
        return SyncReply(billed=True)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    said = data.get("billed") if isinstance(data.get("billed"), bool) else None
    if body.get("success") is not True:
        return SyncReply(billed=said)
    if data.get("identifier") not in (None, number):
        return SyncReply(billed=said is not False)  # another number's answer: none for ours
    registered = data.get("registered")
    if not isinstance(registered, bool):
        return SyncReply(billed=said is not False)  # determined, but not said: unknown
    # The check's id (data.id, "chk_..."; the envelope's transactionId on other
    # pages): the answer's task_id. The engine drops one that is not plausible.
    ident = next((x for x in (data.get("id"), body.get("transactionId"))
                  if isinstance(x, str) and x), None)
    return SyncReply(value="yes" if registered else "no", billed=said, id=ident)
