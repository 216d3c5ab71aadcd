"""The store of answers already paid for, and the journal of jobs.

One contract (`base.BaseStore`), two backends: SQLite, a file under TGCHECK_HOME
(the default), and PostgreSQL, one schema a team shares (TGCHECK_STORE_URL).
`open_store` picks one from the settings or a URL; the values a store decides by
(lease, owner name, lookup strategy) are a `StoreTuning` passed to it.
Importing the package changes nothing outside it.
"""

from __future__ import annotations

from .base import BaseStore
from .copy import CopyReport, copy_store
from .journal import LIVE_STATES
from .open import describe_url, is_store_url, open_store
from .owners import HOST, _started_at, account_of, owner_alive, this_owner
from .packing import number_range, pack_numbers, unpack_numbers
from .rows import (
    ANSWER_COLUMNS,
    JOB_COLUMNS,
    MISSING,
    AnswerGroup,
    AnswerRows,
    AnswerStats,
    Job,
    StoredAnswer,
    StoredJob,
)
from .sqlite import Store, store_error
from .sqlite_schema import ADDED_COLUMNS, foreign_schema
from .translating import _translating
from .tuning import StoreTuning

__all__ = [
    "ADDED_COLUMNS", "ANSWER_COLUMNS", "_started_at", "HOST", "JOB_COLUMNS", "LIVE_STATES",
    "MISSING", "AnswerGroup", "AnswerRows", "AnswerStats", "BaseStore", "CopyReport", "Job",
    "Store", "StoredAnswer", "StoredJob", "StoreTuning", "_translating", "account_of", "copy_store",
    "describe_url", "foreign_schema", "is_store_url", "number_range", "open_store",
    "owner_alive", "pack_numbers", "store_error", "this_owner", "unpack_numbers",
]
