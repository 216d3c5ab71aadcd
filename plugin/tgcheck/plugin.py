"""tgcheck.plugin: everything a provider or plugin author may use, in one place.

docs/plugins.md imports only from here. What is not named here is tgcheck's own
and may change without notice. The HTTP layer (Wire, Call, Errors) loads httpx
and is imported on first use, so a plugin module that imports this at start
costs nothing until a provider is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .billing import DETERMINED, FREE, PER_NUMBER, PER_TASK, Billing
from .connect import Unreachable
from .errors import (
    ApiError,
    BadRequest,
    BelowMinimum,
    ConfigError,
    DeadlineExceeded,
    InsufficientBalance,
    KeyRefused,
    ResultFileError,
    TaskLost,
    TaskTooLarge,
    TgcheckError,
    UncertainCreate,
)
from .fields import Field
from .formats import OutputFormat
from .hookspecs import hookimpl
from .models import JobEvent, Reader, TaskStatus, TaskType
from .plugin_settings import Setting
from .provider import (
    FAILED,
    LOST,
    QUEUED,
    READY,
    RUNNING,
    STATES,
    CallContext,
    Provider,
    SyncCheck,
    SyncReply,
    identity_of,
    plausible_id,
    progress_of,
)
from .redact import clean, holds_secret
from .settings import Settings, canonical_url

if TYPE_CHECKING:
    from . import plugins
    from .api import check
    from .cli import cli
    from .command_errors import handle_errors
    from .normalize import normalise
    from .readers import CsvReader, XlsxReader, ZipReader, readers, rows_to_answers
    from .wire import Call, Errors, Wire, transient

# name -> module: imported when first asked for (httpx with the wire).
_LAZY = {"Wire": "wire", "Call": "wire", "Errors": "wire", "transient": "wire",
         "readers": "readers", "CsvReader": "readers", "XlsxReader": "readers",
         "ZipReader": "readers", "rows_to_answers": "readers",
         "handle_errors": "command_errors", "check": "api", "normalise": "normalize",
         "cli": "cli", "plugins": None}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = _LAZY[name]
    if module is None:  # the module itself (plugins: the plugin manager)
        return importlib.import_module(f"tgcheck.{name}")
    return getattr(importlib.import_module(f"tgcheck.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "FAILED", "LOST", "QUEUED", "READY", "RUNNING", "STATES",
    "DETERMINED", "FREE", "PER_NUMBER", "PER_TASK", "Billing",
    "ApiError", "BadRequest", "BelowMinimum", "Call", "CallContext", "ConfigError", "CsvReader",
    "DeadlineExceeded", "Errors", "Field", "InsufficientBalance", "JobEvent", "KeyRefused",
    "OutputFormat", "Provider", "Reader", "ResultFileError", "Setting", "Settings", "SyncCheck",
    "SyncReply", "TaskLost", "TaskStatus", "TaskTooLarge", "TaskType", "TgcheckError",
    "UncertainCreate", "Unreachable", "Wire", "XlsxReader", "ZipReader", "canonical_url",
    "clean", "handle_errors", "holds_secret", "hookimpl", "identity_of", "plausible_id",
    "progress_of", "readers",
    "rows_to_answers", "transient", "check", "cli", "normalise", "plugins",
]
