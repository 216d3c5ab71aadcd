"""ekycpro's synchronous check, POST {TGCHECK_SYNC_URL}/v1/check (api notes, section 8):
one number a call, answered from the vendor's cache, billed only when determined.

A description of the call and its replies; the fast path (tgcheck.fast_path) owns
the concurrency, the rate limit and what becomes of a number without an answer.
"""

from __future__ import annotations

import functools
import time

from ... import bounded_http, redact
from ..._lean_httpx import httpx
from ...bounded_http import BodyTooLarge
from ...errors import ConfigError, InsufficientBalance, KeyRefused
from ...provider import SyncCheck, SyncReply
from ...retry import retry_after_seconds
from ...settings import Settings, canonical_url, check_url_scheme, is_loopback

# The host the vendor's Telegram page documents for /v1/check.
DEFAULT_SYNC_URL = "https://api.ekycpro.ai"
# A check's reply is a few hundred bytes.
MAX_REPLY_BYTES = 64 * 1024
# One call may take this long at most: a slow answer is not worth more than a
# task's place for that number.
CALL_SECONDS = 15.0
USER_AGENT = "tgcheck (+https://pypi.org/project/tgcheck/)"
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
        self._key = settings.require_key()
        self._client = httpx.Client(
            base_url=url, transport=transport, follow_redirects=False,  # the key stays
            headers={"X-API-Key": self._key, "User-Agent": USER_AGENT},
            # A connection per call, as the bulk client: bounded_http's deadline
            # shuts a request's own socket, which it learns of only on connect.
            limits=httpx.Limits(max_keepalive_connections=0))

    def __repr__(self) -> str:
        return f"<EkycproSync {redact.url_without_userinfo(self.url)}>"

    def close(self) -> None:
        self._client.close()

    def check(self, number: str, task_type: str, *, deadline: float) -> SyncReply:
        total = max(0.5, min(CALL_SECONDS, self.settings.http_timeout, deadline - time.monotonic()))
        try:
            response = bounded_http.request(
                self._client, "POST", "/v1/check", total=total, read=total,
                max_bytes=MAX_REPLY_BYTES,
                json={"service_type": task_type, "identifier": number})
        except (httpx.TransportError, BodyTooLarge):
            # A timeout or a dropped reply: maybe billed, maybe not; the number goes
            # to the task (never asked here twice).
            return SyncReply()
        code = response.status_code
        if code in (401, 403):
            raise KeyRefused(f"checking a number at {self.url}: the provider refused the API "
                             f"key (HTTP {code}); check TGCHECK_API_KEY")
        if code == 402:
            raise InsufficientBalance(
                f"checking a number at {self.url}: insufficient balance at the provider "
                f"(HTTP 402): {self._text(response)}; top up the account")
        if code == 429:
            return SyncReply(retry_after=retry_after_seconds(
                response.headers.get("Retry-After")) or 1.0)
        if code != 200:
            return SyncReply()  # 400, 5xx, anything else: free; the task answers it
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            return SyncReply(billed=True)  # a paid 200 we cannot read: counted
        return _reply(body, number)

    def _text(self, response: httpx.Response) -> str:
        try:
            data = response.json()
            text = data.get("error") or data.get("message") if isinstance(data, dict) else None
        except (ValueError, UnicodeDecodeError):
            text = None
        return redact.clean(text or response.text, 120).replace(self._key, "***")


def _reply(body: object, number: str) -> SyncReply:
    """A 200's body: registered true/false is an answer (billed as it says,
    billed when it says nothing); success false (a miss, undetermined) is free."""
    if not isinstance(body, dict):
        return SyncReply(billed=True)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    said = data.get("billed")
    if body.get("success") is not True:
        return SyncReply(billed=said is True)
    if data.get("identifier") not in (None, number):
        return SyncReply(billed=said is not False)  # another number's answer: none for ours
    registered = data.get("registered")
    if not isinstance(registered, bool):
        return SyncReply(billed=said is not False)  # determined, but not said: unknown
    return SyncReply(value="yes" if registered else "no", billed=said is not False)
