"""The store of answers already paid for, and the journal of jobs.

One contract (`base.BaseStore`), two backends: SQLite, a file under TGCHECK_HOME
(the default), and PostgreSQL, one schema a team shares (TGCHECK_STORE_URL).
`open_store` picks one from the settings or a URL.
"""

from __future__ import annotations

import sys
import types

from . import base, sqlite  # noqa: E402  (after the names: the modules tuned below)
from .base import (
    ANSWER_COLUMNS,
    HOST,
    JOB_COLUMNS,
    LEASE_SECONDS,
    LIVE_STATES,
    MISSING,
    AnswerGroup,
    AnswerStats,
    BaseStore,
    Job,
    StoredAnswer,
    StoredJob,
    _started_at,
    _translating,
    account_of,
    owner_alive,
    pack_numbers,
    this_owner,
    unpack_numbers,
)
from .copy import CopyReport, copy_store
from .open import describe_url, is_store_url, open_store
from .sqlite import (
    ADDED_COLUMNS,
    FILTER_PAIRS_MAX,
    SCAN_MIN,
    SCAN_SHARE,
    SCHEMA,
    Store,
    foreign_schema,
    store_error,
)


class _Package(types.ModuleType):
    """Setting a tuning name here (LEASE_SECONDS, SCAN_MIN, this_owner ...) sets it
    where the code reads it, as when the store was one module: tests and users
    that tune `tgcheck.store.X` keep working."""

    def __setattr__(self, name, value):
        for module in (base, sqlite):
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "ADDED_COLUMNS", "ANSWER_COLUMNS", "FILTER_PAIRS_MAX", "SCAN_MIN", "SCAN_SHARE",
    "_started_at", "HOST", "JOB_COLUMNS", "LEASE_SECONDS", "LIVE_STATES",
    "MISSING", "SCHEMA", "AnswerGroup", "AnswerStats", "BaseStore", "CopyReport", "Job", "Store",
    "StoredAnswer", "StoredJob", "_translating", "account_of", "copy_store", "describe_url",
    "foreign_schema", "is_store_url", "open_store", "owner_alive", "pack_numbers",
    "store_error", "this_owner", "unpack_numbers",
]
