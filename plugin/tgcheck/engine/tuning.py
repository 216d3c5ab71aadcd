"""The engine's tuning: how often and how long, as values an Engine is built with.

Defaults fit a real vendor; a test or a benchmark passes its own
(Engine(..., tuning=Tuning(record_step=0.01))) instead of patching a module.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Tuning:
    # While a job is driven, a thread refreshes its lease this often (seconds);
    # well inside the store's lease (store.LEASE_SECONDS).
    heartbeat_every: float = 10.0
    # Tries at journaling a created task's id (a full disk, a locked store) before
    # the error that names the task; seconds between them grow by this step.
    record_tries: int = 3
    record_step: float = 0.5
