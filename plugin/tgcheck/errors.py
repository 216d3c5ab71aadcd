"""The project's own errors: every failure a user can meet is one of these.

Each message says what happened and what to do next; none ever holds the API key:
every message passes the redaction point (redact.message) when the error is made,
so a key a provider echoed back cannot reach a log, a terminal or a traceback.

Every face shows an error through describe() and every command exits with
exit_code(): one text and one exit-code rule for the CLI, `tgcheck sql`, the
doctor, a plugin's command and an Excel cell.
"""

from . import redact


class TgcheckError(Exception):
    """Base of every error tgcheck raises on purpose."""

    exit_code = 1

    def __init__(self, *args):
        super().__init__(*(redact.message(a) if isinstance(a, str) else a for a in args))


class ConfigError(TgcheckError):
    """A setting is missing or wrong (no API key, an http:// base URL, ...)."""

    exit_code = 2


class NoApiKey(ConfigError):
    """No key is set. Its message fits every face; the CLI and `tgcheck sql` add
    the way to try without a key that fits them (`--sandbox`)."""


class InputError(TgcheckError):
    """The caller's input cannot be read (missing file, unknown task type, ...)."""

    exit_code = 2


class ApiError(TgcheckError):
    """The provider answered with an error that retrying will not fix."""


class BadRequest(ApiError):
    """400: the provider refused the request (free; not retried)."""


class KeyRefused(ApiError):
    """401/403: the provider refused the API key."""


class UncertainCreate(ApiError):
    """The create request was sent but its outcome is unknown.

    The task may exist and be billed. Creating it again blindly could pay twice,
    so the job is marked uncertain and only a deliberate resubmit creates again.
    """


class TaskFailed(ApiError):
    """The provider reported the task as failed."""


class Cancelled(TgcheckError):
    """The caller stopped waiting; the task runs on and the next call attaches to it."""


class DeadlineExceeded(TgcheckError):
    """Waiting took longer than the configured timeout; the job stays open to resume."""


class ResultFileError(TgcheckError):
    """The result file could not be read by any reader."""


class StoreError(TgcheckError):
    """The local store cannot be used. The subclasses say why; each has its own
    advice, and only StoreDamaged (an integrity check failed) ever leads to the
    file being moved aside: the others hold answers already paid for."""


class StoreDamaged(StoreError):
    """SQLite found the file corrupt or not a database: `tgcheck doctor` salvages it."""


class StoreFull(StoreError):
    """The disk (or quota) holding the store is full."""


class StoreReadOnly(StoreError):
    """The store, or the folder holding it, cannot be written."""


class StoreLocked(StoreError):
    """Another process held the store's lock for longer than the busy timeout."""


class StoreForeign(StoreError):
    """The file is a SQLite database, but not a tgcheck store (another schema)."""


class StoreUnreachable(StoreError, ConfigError):
    """The shared store (TGCHECK_STORE_URL) cannot be used at all: the server is
    down or unreachable, refuses the login, or has no such database. Raised when the
    store is opened, before any call to the provider; a setting to fix (exit 2),
    never a reason to fall back to a private store that the team does not share."""

    exit_code = 2


class JobStalled(TgcheckError):
    """A job used its status-call budget without finishing: it is no longer polled
    until the user asks (`tgcheck resume`, `tgcheck status`)."""


class TaskLost(ApiError):
    """The provider no longer knows the task (404, "task not found"): its numbers
    have no answers, and only a deliberate resubmit creates (and pays for) a new one."""


class InsufficientBalance(ApiError):
    """402: the account's balance is too low; nothing was created or billed."""


class TaskTooLarge(ApiError):
    """413: the provider refused the file as too large; nothing was created."""


class BelowMinimum(InputError):
    """Fewer new numbers than the task type's minimum task size (checked before any call)."""


# The one exit-code rule of every command (docs/cli.md): 0 done; 1 failed;
# 2 bad usage, input or settings (nothing was sent); 130 interrupted.
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def exit_code(error: BaseException) -> int:
    """The exit code for a command that ends with error: a TgcheckError's own
    (ConfigError and InputError 2, the others 1), 130 for Ctrl-C, else 1."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, TgcheckError):
        return error.exit_code
    return EXIT_FAILED


def describe(error: BaseException, *, no_key: str | None = None) -> str:
    """error as one text that is safe to show anywhere (terminal, cell, log).

    tgcheck's own errors say their message; NoApiKey says no_key when a face
    gives one (the way to try without a key that fits it); any other error its
    type and message. The key is masked whatever the message says: a
    third-party plugin's or a library's message might hold it.
    """
    if isinstance(error, NoApiKey) and no_key:
        text = no_key
    elif isinstance(error, TgcheckError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return redact.message(text)
