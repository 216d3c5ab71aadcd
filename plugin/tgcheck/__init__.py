"""tgcheck: which phone numbers have a Telegram account, checked in bulk, paid once."""

import logging

from .answer_column import AnswerColumn
from .api import check, get_engine
from .engine import Cancelled, ColumnAnswers, Engine
from .errors import (
    ApiError,
    BadRequest,
    ConfigError,
    DeadlineExceeded,
    InputError,
    KeyRefused,
    ResultFileError,
    StoreError,
    StoreUnreachable,
    TaskFailed,
    TgcheckError,
    UncertainCreate,
)
from .hookspecs import hookimpl
from .models import Answer, JobEvent, TaskStatus, TaskType
from .normalize import normalise
from .plugin_settings import Setting
from .provider import Provider
from .regions import RegionError
from .settings import Settings

__version__ = "0.1.0"

# A library logs, the application decides where to: without this, Python's
# last-resort handler prints tgcheck's warnings raw on stderr (into a JSON
# progress stream, too). `--debug` or the caller's logging setup shows them.
logging.getLogger("tgcheck").addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "AnswerColumn",
    "ApiError",
    "BadRequest",
    "Cancelled",
    "ColumnAnswers",
    "ConfigError",
    "DeadlineExceeded",
    "Engine",
    "InputError",
    "JobEvent",
    "KeyRefused",
    "Provider",
    "RegionError",
    "ResultFileError",
    "Setting",
    "Settings",
    "StoreError",
    "StoreUnreachable",
    "TaskFailed",
    "TaskStatus",
    "TaskType",
    "TgcheckError",
    "UncertainCreate",
    "check",
    "get_engine",
    "hookimpl",
    "normalise",
]
