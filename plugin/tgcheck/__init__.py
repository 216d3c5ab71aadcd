"""tgcheck: which phone numbers have a Telegram account, checked in bulk, paid once."""

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
    TaskFailed,
    TgcheckError,
    UncertainCreate,
)
from .hookspecs import hookimpl
from .models import Answer, JobEvent, TaskStatus, TaskType
from .normalize import normalise
from .regions import RegionError
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Answer",
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
    "RegionError",
    "ResultFileError",
    "Settings",
    "StoreError",
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
