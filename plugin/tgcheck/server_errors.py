"""Replies that say a wait cannot succeed: the base URL is not the API, or the
server keeps failing.

Without these, a base URL that answers 5xx to every create (a static file server
answers 501 to any POST) is retried until TGCHECK_TIMEOUT, four hours by default,
saying only "still waiting". Instead:

- a reply that means "not this endpoint" (404, 405, 501 to a create) stops at
  once with an error naming the base URL: no retry will change it;
- a create that keeps failing with 5xx (free: nothing is created) is retried,
  each retry told, within TGCHECK_SERVER_ERROR_BUDGET seconds from the first
  failure, then one clear error. A 502/504 is not counted here: a gateway that
  gave up may have passed the create on (the caller keeps it uncertain).
"""

from __future__ import annotations

import functools
import time

from . import connect, redact
from .errors import ApiError, ConfigError, DeadlineExceeded
from .retry import Backoff, retry_after_seconds

# Replies that name no resource here: the base URL is not the vendor's API.
NOT_THIS_ENDPOINT = (404, 405, 501)


class WrongEndpoint(ConfigError):
    """The base URL answers like something that is not the provider's API."""


class ServerErrors(ApiError):
    """The provider answered 5xx to every try within the server-error budget."""


def is_html(response) -> bool:
    """A web page, not an API reply (a site, a login portal, a proxy's page)."""
    ctype = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return ctype in ("text/html", "application/xhtml+xml")


def not_this_endpoint(response, what: str, base_url: str) -> WrongEndpoint | None:
    """The error to raise at once for a reply that means "not this endpoint", or None."""
    code = response.status_code
    if code not in NOT_THIS_ENDPOINT:
        return None
    return WrongEndpoint(
        f"{what}: {redact.url_without_userinfo(base_url)} answered HTTP {code} "
        f"({response.reason_phrase or 'no reason given'}): it does not look like the "
        "provider's API; check the base URL (TGCHECK_BASE_URL or --base-url). Nothing "
        "was created or billed")


class ServerErrorBudget:
    """One call's retries of 5xx replies: at most `budget` seconds from the first
    (never past the call's deadline), each retry told and honouring Retry-After."""

    def __init__(self, budget: float, deadline: float, *, base: float, base_url: str,
                 context=None):
        self.budget, self.deadline, self.base = budget, deadline, base
        self.context = context  # a CallContext: retries told to it, its cancel heard
        self.base_url = base_url
        self.started: float | None = None
        self._backoff: Backoff | None = None

    def failed(self, response, what: str) -> None:
        """Wait before the next attempt, or raise ServerErrors when the budget is spent."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
            self._backoff = Backoff(min(self.deadline, now + self.budget), base=self.base,
                                    sleep=functools.partial(connect.pause, context=self.context),
                                    tell=functools.partial(connect.tell, context=self.context))
        code = response.status_code
        attempt = self._backoff.attempt + 1
        try:
            self._backoff.wait(what, retry_after_seconds(response.headers.get("Retry-After")),
                               f"HTTP {code} from {redact.url_without_userinfo(self.base_url)}")
        except DeadlineExceeded:
            if self.deadline <= self.started + self.budget:
                raise  # the call's own deadline came first: said as such
            raise ServerErrors(
                f"{what}: {redact.url_without_userinfo(self.base_url)} answered HTTP {code} "
                f"(a server error) to all {attempt} tries in {now - self.started:.0f}s; "
                "nothing was created or billed (a 5xx is free). Try again later, or raise "
                "TGCHECK_SERVER_ERROR_BUDGET to wait longer") from None
