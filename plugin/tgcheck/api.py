"""The Python API: tgcheck.check() and the shared engine behind every face."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .engine import Engine, EventListener
from .errors import ConfigError
from .models import Answer
from .normalize import Region
from .settings import Settings

_engines: dict[Settings, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """One engine per settings per process, so every face shares a provider and store."""
    settings = settings or Settings.from_env()
    with _engines_lock:
        engine = _engines.get(settings)
        if engine is None:
            engine = _engines[settings] = Engine(settings)
        return engine


def check(
    numbers: Iterable[object],
    *,
    task_type: str = "tg",
    region: Region = None,
    retry_unknown: bool = False,
    resubmit: bool = False,
    top_up: bool | None = None,
    on_event: EventListener | None = None,
    settings: Settings | None = None,
    provider: str | None = None,
) -> list[Answer]:
    """Answers for numbers, same length and order as the input.

    Each Answer has input, number (E.164 or None), value (yes/no for "tg") and
    status (ok, invalid, blank, unknown), and reason ("code: text", see
    docs/numbers.md) when not ok or when the number was changed on the way.

    region reads national numbers: one region for all ("GB", "UK", "United
    Kingdom", "44"; an unknown one raises RegionError, a ValueError), or a sequence
    with one region per number (empty: none; unknown: that row is invalid).
    Invalid and blank inputs are answered
    locally; known answers come from the local store; the rest is one task.
    top_up=True fills a task below the task type's minimum size with the stalest
    stored answers, checked again (None: TGCHECK_TOP_UP).
    provider selects an installed provider plugin ("wscheck"; None: the settings',
    TGCHECK_PROVIDER, else ekycpro).
    """
    if settings is None and provider is not None:
        settings = Settings.from_env(provider=provider)
    elif provider is not None and provider != settings.provider:
        # Settings hold the provider's base URL: another provider there would be
        # sent this one's key.
        raise ConfigError(f"provider={provider!r} and settings for {settings.provider!r}: "
                          f"give one (Settings(provider={provider!r}, ...))")
    return get_engine(settings).check(
        numbers, task_type=task_type, region=region, retry_unknown=retry_unknown,
        resubmit=resubmit, on_event=on_event, top_up=top_up,
    )
