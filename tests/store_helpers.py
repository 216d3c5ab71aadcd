"""Answers put in a store the way a real job puts them there (claim, then
finish_job in one transaction), for tests that start from stored answers."""

from __future__ import annotations

import itertools
import time

_jobs = itertools.count(1)


def store_answers(store, task_type: str, rows, task_id: str | None = "t1", *,
                  provider: str | None = None) -> None:
    """rows: (number, value, status). A job of a provider of its own ("test"), so
    the engine's own jobs never wait for it or overlap with it."""
    rows = list(rows)
    role, job = store.claim(f"test-answers-{next(_jobs)}-{time.time()}", "test", task_type,
                            sorted({n for n, _, _ in rows}), since=time.time() + 1)
    assert role == "drive", role
    store.update_job(job.id, state="open", task_id=task_id)
    store.finish_job(store.job(job.id), task_type, rows, provider=provider)
