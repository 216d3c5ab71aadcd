"""Which store a run uses: `open_store(settings_or_url)`.

TGCHECK_STORE_URL unset: the SQLite file under TGCHECK_HOME, as always.
`postgresql://user@host:port/db`: the team's PostgreSQL database. Nothing falls
back to a private store when the database cannot be reached: a team that thinks
it shares answers and does not would pay twice, so that is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .. import redact
from ..errors import ConfigError
from ..redact import describe_url  # here too: store.describe_url, as before
from .base import BaseStore
from .owners import account_of
from .tuning import StoreTuning

SCHEMES = ("postgresql", "postgres")
# The schema holding the answers and journal in PostgreSQL; simulated (sandbox)
# answers have their own, so they can never be served as real ones.
SCHEMA = "tgcheck"
SANDBOX_SCHEMA = "tgcheck_sandbox"


def is_store_url(text: str | None) -> bool:
    """Whether text names a PostgreSQL store (rather than a file)."""
    # By its scheme alone: a URL too broken to parse is still the store's to refuse
    # with a clear message (check_store_url), not a file name or a crash.
    scheme, sep, _ = str(text or "").partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def check_store_url(url: str, name: str = "TGCHECK_STORE_URL") -> None:
    """A store URL (name: where it was given) must be a postgresql:// URL. Its
    password, and PGPASSWORD, are secrets like the API key: from now on masked in
    every message, log and traceback (a message never quotes the URL itself, only
    describe_url's)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ConfigError(f"{name} cannot be read as a URL; write it as "
                          "postgresql://USER@HOST[:PORT]/DATABASE") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigError(f"{name} must be a postgresql://USER@HOST[:PORT]/DATABASE "
                          f"URL, not {parts.scheme or 'one without a scheme'}://...")
    if parts.netloc.count("@") > 1:
        # An unencoded @ in the password: Python splits the login at the last @,
        # libpq at the first, and then quotes the rest of the password back as a
        # host name in every connection error. Refused before connecting, quoting
        # none of it; both readings of the password are masked from now on.
        first_login = parts.netloc.partition("@")[0]
        for password in (first_login.partition(":")[2], parts.password):
            if password:
                redact.register_secret(password)
        raise ConfigError(f"{name} holds more than one '@' before the host: a password "
                          "with an '@' (or another reserved character) must be "
                          "percent-encoded ('@' as %40), or given in PGPASSWORD or "
                          "~/.pgpass instead of the URL")
    query = {k.lower(): v for k, v in parse_qs(parts.query).items()}
    for password in (parts.password, *query.get("password", ()),
                     *query.get("sslpassword", ()), os.environ.get("PGPASSWORD")):
        if password:
            redact.register_secret(password)
            redact.register_secret(unquote(password))


def open_store(target, *, schema: str | None = None,
               tuning: StoreTuning | None = None) -> BaseStore:
    """The store for target: a Settings (its store_url, else its store_path), a
    PostgreSQL URL, or a SQLite file path; tuning: the values it decides by
    (tgcheck's defaults when None).

    With settings of a sandbox run (simulated answers), PostgreSQL uses the
    schema `tgcheck_sandbox` instead of `tgcheck`. Raises StoreError when the
    database cannot be reached or is not a tgcheck store; ConfigError for a URL
    that is not PostgreSQL's."""
    if hasattr(target, "store_path"):
        url = getattr(target, "store_url", None)
        if url:
            schema = schema or (SANDBOX_SCHEMA if target.simulated else SCHEMA)
        store = open_store(url or target.store_path, schema=schema, tuning=tuning)
        key = target.api_key.reveal() if target.api_key is not None else None
        store.account = account_of(key) if key else None
        return store
    text = str(target)
    if "://" in text and not is_store_url(text):
        raise ConfigError(f"TGCHECK_STORE_URL must be a postgresql:// URL, not "
                          f"{describe_url(text)!r}")
    if is_store_url(text):
        from .postgres import PostgresStore

        # Whoever opens it (settings, doctor --store, store migrate --to): its
        # password is masked from here on, and an unreadable URL is a clear error.
        check_store_url(text, "the store URL")
        return PostgresStore(text, schema=schema or SCHEMA, tuning=tuning)
    from .sqlite import Store

    return Store(Path(text), tuning=tuning)
