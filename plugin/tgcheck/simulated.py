"""`--sandbox` for every face: the built-in sandbox started for one run.

The CLI's commands and `tgcheck sql` call simulated_settings(); it starts the
sandbox through tgcheck.sandbox (the neutral start-up: the provider's own
sandbox), says once that the answers are SIMULATED, and yields settings aimed
at it. The sandbox stops when the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from . import settings_registry
from .settings import Settings

SIMULATED_BANNER = (
    "tgcheck: SIMULATED answers from the built-in sandbox, not real Telegram data. "
    "Set TGCHECK_API_KEY and drop --sandbox for real checks."
)


@contextlib.contextmanager
def simulated_settings(say: Callable[[str], None] | None = None,
                       **overrides) -> Iterator[Settings]:
    """Settings aimed at a sandbox started now; say(SIMULATED_BANNER) unless say
    is None. The sandbox is on loopback: it is polled every 0.2..2 s unless
    TGCHECK_POLL_MIN says otherwise."""
    from .sandbox.embedded import embedded_sandbox, sandbox_settings

    if not settings_registry.is_set("poll_min"):
        overrides = {"poll_min": 0.2, "poll_max": 2.0, **overrides}
    with embedded_sandbox(overrides.get("provider")) as sb:
        settings = sandbox_settings(sb, **overrides)
        if say is not None:
            say(SIMULATED_BANNER)
        yield settings
