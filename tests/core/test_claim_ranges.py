"""A claim looks only into the jobs that can share a number with it (issue 25
item 1): each job keeps its first and last number, and a claim unpacks only the
jobs whose range meets its own. On both backends (a SQLite file, PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from tgcheck.store import claims


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4179{i:07d}" for i in range(start, start + n)]


@pytest.fixture
def unpacked(monkeypatch):
    """How many journal rows claims unpacked (each costs the job's whole set)."""
    calls = []
    real = claims.unpack_numbers

    def counting(blob):
        calls.append(1)
        return real(blob)

    monkeypatch.setattr(claims, "unpack_numbers", counting)
    return calls


def test_a_run_s_chunks_never_unpack_each_other(any_store, unpacked):
    # One run's chunks: slices of one sorted set, live or finished after its lookup.
    since = time.time() - 60
    for i in range(30):
        role, job = any_store.claim(f"k{i}", "p", "tg", numbers(100, i * 100), since=since)
        assert role == "drive"
        if i % 2:
            any_store.finish_job(job, "tg", [(n, "yes", "ok") for n in numbers(100, i * 100)])
    # Before ranges, the 30th chunk unpacked all 29 earlier ones: 435 in all.
    assert unpacked == []


def test_only_jobs_whose_range_meets_the_claim_are_unpacked(any_store, unpacked):
    for i in range(10):
        assert any_store.claim(f"k{i}", "p", "tg", numbers(100, i * 1000))[0] == "drive"
    # Another run's set within the range of job k3 (numbers 3000-3099), none shared.
    role, _ = any_store.claim("other", "p", "tg", numbers(50, 3200))
    assert role == "drive" and len(unpacked) == 0
    role, _ = any_store.claim("meets", "p", "tg", [*numbers(5, 3050), *numbers(5, 3150)])
    assert role == "overlap"
    assert len(unpacked) == 1  # k3 only; "other" (3200-3249) lies outside the range
    # A set spanning many ranges looks into each of them, and finds what it shares.
    role, job = any_store.claim("wide", "p", "tg", ["+41790000050", "+41790009999"])
    assert (role, job.key) == ("overlap", "k0")


def test_a_job_journaled_without_a_range_is_always_looked_into(any_store):
    # A job an older tgcheck journaled (no range): it may hold anything.
    role, job = any_store.claim("old", "p", "tg", numbers(3))
    with any_store._tx() as db:
        db.execute("UPDATE jobs SET first_number = NULL, last_number = NULL WHERE id = ?",
                   (job.id,))
    role, other = any_store.claim("new", "p", "tg", numbers(2, 2))
    assert (role, other.id) == ("overlap", job.id)


def test_imported_jobs_keep_their_range(any_store, tmp_path):
    from tgcheck.store import copy_store, open_store

    src = open_store(str(tmp_path / "src.sqlite3"))
    src.claim("k", "p", "tg", numbers(3, 10))
    copy_store(src, any_store)
    src.close()
    row = any_store._read().execute(
        "SELECT first_number, last_number FROM jobs WHERE key = 'k'", ()).fetchone()
    assert tuple(row) == ("+41790000010", "+41790000012")
    assert any_store.claim("new", "p", "tg", numbers(1, 12))[0] == "overlap"
