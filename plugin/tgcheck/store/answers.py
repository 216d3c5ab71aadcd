"""The answers half of the store contract: lookups, and the store as a whole
for `tgcheck cache`. Written once in SQL both backends speak; a backend brings
`_answer_groups` (its bulk lookup) and its clock (see base.BaseStore)."""

from __future__ import annotations

import json
from collections.abc import Collection

from .rows import ANSWER_COLUMNS, AnswerGroup, AnswerStats, StoredAnswer
from .translating import _translating

# -- the answers' SQL both backends run (each brings its own bulk source) ------
# A stored answer as StoredAnswer has it, from `FROM answers{where}`.
SELECT_STORED = ("SELECT task_type, number, value, status, checked_at, task_id, provider, "
                 "fields FROM answers{where} ORDER BY task_type, number")
# A job's answers replace the stored ones, except that a number a newer file
# left out (unknown) keeps a stored "ok": that answer was paid for, and being
# left out contradicts nothing. It is kept as it was, checked_at and origin too
# (nothing confirmed it), so it ages out as before.
SAVE_ON_CONFLICT = """ON CONFLICT (task_type, number) DO UPDATE SET value = excluded.value,
        status = excluded.status, checked_at = excluded.checked_at,
        task_id = excluded.task_id, provider = excluded.provider
    WHERE NOT (answers.status = 'ok' AND excluded.status = 'unknown')"""
# A copied answer (a copy of another store, what the doctor salvaged) replaces a
# stored one only when newer ("ok" wins a tie), with all it carries.
IMPORT_ON_CONFLICT = """ON CONFLICT (task_type, number) DO UPDATE SET value = excluded.value,
        status = excluded.status, checked_at = excluded.checked_at,
        task_id = excluded.task_id, provider = excluded.provider, fields = excluded.fields
    WHERE excluded.checked_at > answers.checked_at
       OR (excluded.checked_at = answers.checked_at AND excluded.status = 'ok'
           AND answers.status <> 'ok')"""


def fresh_after(max_age_days: float, unknown_retry_hours: float, retry_unknown: bool,
                now: float) -> tuple[float, float]:
    """The checked_at after which an answer is still fresh enough to use at now:
    (for an "ok" one, for any other)."""
    ok_after = now - max_age_days * 86400
    unknown_after = now + 1 if retry_unknown else now - unknown_retry_hours * 3600
    return ok_after, unknown_after


def _fresh(max_age_days: float, unknown_retry_hours: float, retry_unknown: bool,
           now: float) -> tuple[str, tuple]:
    """The SQL condition (and its arguments) for an answer still fresh enough to use."""
    return ("checked_at > CASE status WHEN 'ok' THEN ? ELSE ? END",
            fresh_after(max_age_days, unknown_retry_hours, retry_unknown, now))


class AnswerQueries:
    """BaseStore's answer methods (a part of BaseStore, not used alone)."""

    @_translating
    def lookup(self, task_type: str, numbers: Collection[str], *, max_age_days: float,
               unknown_retry_hours: float, retry_unknown: bool = False,
               now: float | None = None, provider: str | None = None,
               needs_fields: bool = False) -> dict[str, tuple[str | None, str]]:
        """Fresh answers among numbers: number -> (value, status). An answer is a
        fact about the number, whoever gave it; with provider, only that
        provider's answers count (TGCHECK_SAME_PROVIDER_ONLY). needs_fields: the
        task type declares fields; an "ok" stored without them does not count."""
        return self._answers_of(task_type, numbers, *self._freshness(
            max_age_days, unknown_retry_hours, retry_unknown, now, provider, needs_fields))

    @_translating
    def lookup_groups(self, task_type: str, numbers: Collection[str], *, max_age_days: float,
                      unknown_retry_hours: float, retry_unknown: bool = False,
                      now: float | None = None, provider: str | None = None,
                      needs_fields: bool = False) -> list[AnswerGroup]:
        """lookup() without a per-number dict: (value, status, numbers) groups.

        Each fresh answer among numbers is in one group; a group may also hold
        numbers that were not asked for (a large set may read the answers between
        its first and last number: _reach). For callers that join by number
        themselves, e.g. with Arrow.
        """
        return self._answer_groups(task_type, numbers, *self._freshness(
            max_age_days, unknown_retry_hours, retry_unknown, now, provider, needs_fields))[0]

    @_translating
    def lookup_range(self, task_type: str, first: str, last: str, *, max_age_days: float,
                     unknown_retry_hours: float, retry_unknown: bool = False,
                     now: float | None = None, provider: str | None = None,
                     needs_fields: bool = False) -> list[AnswerGroup]:
        """The fresh answers of every stored number between first and last (both
        included, in the order str sorts) as (value, status, numbers) groups: one
        range read of the index, for a caller holding a sorted run of numbers
        that drops those it did not ask for. What it returns follows the stored
        answers in the range, not the store. lookup_groups reads a large set's
        range through the same backend read (_answers_between) when its share
        rule, _reach, says reading beats probing."""
        if first > last:
            return []
        return self._answers_between(task_type, first, last, *self._freshness(
            max_age_days, unknown_retry_hours, retry_unknown, now, provider, needs_fields))

    def _answers_between(self, task_type: str, first: str, last: str, condition: str,
                         args: tuple) -> list[AnswerGroup]:
        """backend: the answers of task_type between first and last (inclusive)
        meeting condition, as (value, status, numbers) groups."""
        raise NotImplementedError

    def _reach(self, db, task_type: str, numbers: Collection[str]) -> tuple[str, str] | None:
        """The first and last of numbers when a lookup of them reads the task
        type's answers between the two rather than probing the index for each;
        None: probe. The share rule: read when the set is at least scan_min
        numbers and the range holds at most scan_share stored answers per number
        asked. A run's sorted chunk is most of its range (a cached run: all of
        it), so it is read; a set spread thinly over a large store is probed, and
        what a read returns stays within scan_share times the set, never the
        whole table. Counting stops past that many (a LIMIT), so deciding costs
        at most the read it decides on."""
        tuning = self.tuning
        if len(numbers) < tuning.scan_min:
            return None
        first, last = min(numbers), max(numbers)
        most = len(numbers) * tuning.scan_share
        stored = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM answers WHERE task_type = ? "
            "AND number BETWEEN ? AND ? LIMIT ?) AS found",
            (task_type, first, last, most + 1)).fetchone()[0]
        return (first, last) if stored <= most else None

    def _freshness(self, max_age_days, unknown_retry_hours, retry_unknown, now, provider,
                   needs_fields=False):
        now = self._now() if now is None else self._to_store_time(now)
        condition, args = _fresh(max_age_days, unknown_retry_hours, retry_unknown, now)
        if needs_fields:
            # An "ok" stored without fields (before they were kept) does not answer
            # a task type that declares them: it is asked again.
            condition = f"{condition} AND (status <> 'ok' OR fields IS NOT NULL)"
        if provider is None:
            return condition, args
        # An answer of unknown origin (stored before answers recorded it) is not
        # known to be this provider's: not reused under this limit.
        return f"{condition} AND provider = ?", (*args, provider)

    @_translating
    def stored(self, task_type: str, numbers: Collection[str]) -> dict[str, tuple]:
        """Stored answers whatever their age: for a job that has just finished."""
        return self._answers_of(task_type, numbers, "TRUE", ())

    @_translating
    def stored_since(self, task_type: str, numbers: Collection[str], since: float) -> dict:
        """Answers stored at or after `since` (by a job that finished meanwhile)."""
        return self._answers_of(task_type, numbers, "checked_at >= ?",
                                (self._to_store_time(since),))

    @_translating
    def origins(self, task_type: str, numbers: Collection[str]) -> dict[str, StoredAnswer]:
        """number -> its stored answer whatever its age, with where it came from
        (provider, task id, checked_at): for `tgcheck cache show`."""
        found: dict[str, StoredAnswer] = {}
        asked = sorted(set(numbers))
        for start in range(0, len(asked), 500):  # within any backend's parameter limit
            part = asked[start:start + 500]
            rows = self._read().execute(
                f"SELECT {', '.join(ANSWER_COLUMNS)}, provider FROM answers WHERE "
                f"task_type = ? AND number IN ({', '.join('?' * len(part))})",
                (task_type, *part)).fetchall()
            for row in rows:
                answer = StoredAnswer(*row)
                found[answer.number] = answer._replace(
                    checked_at=self._from_store_time(answer.checked_at))
        return found

    @_translating
    def fields_of(self, task_type: str, numbers: Collection[str]) -> dict[str, dict]:
        """number -> its stored fields (the JSON object as stored; a face types them
        with the task type's Field.clean), for the numbers whose "ok" answer has them."""
        found: dict[str, dict] = {}
        asked = sorted(set(numbers))
        for start in range(0, len(asked), 500):  # within any backend's parameter limit
            part = asked[start:start + 500]
            rows = self._read().execute(
                "SELECT number, fields FROM answers WHERE task_type = ? AND status = 'ok' "
                f"AND fields IS NOT NULL AND number IN ({', '.join('?' * len(part))})",
                (task_type, *part)).fetchall()
            for number, text in rows:
                found[number] = json.loads(text)
        return found

    def _answers_of(self, task_type: str, numbers: Collection[str], condition: str,
                    args: tuple) -> dict[str, tuple[str | None, str]]:
        """number -> (value, status) for the numbers with a stored answer meeting condition."""
        groups, exact = self._answer_groups(task_type, numbers, condition, args)
        wanted = None if exact else (
            numbers if isinstance(numbers, (set, frozenset)) else set(numbers))
        found: dict[str, tuple[str | None, str]] = {}
        for value, status, group in groups:
            found.update(dict.fromkeys(group if exact else wanted.intersection(group),
                                       (value, status)))
        return found

    # -- the store as a whole: for `tgcheck cache` ------------------------
    def _answer_filter(self, task_type: str | None, older_than_days: float | None,
                       now: float | None) -> tuple[str, list]:
        where, args = [], []
        if task_type:
            where.append("task_type = ?")
            args.append(task_type)
        if older_than_days is not None:
            now = self._now() if now is None else self._to_store_time(now)
            where.append("checked_at < ?")
            args.append(now - older_than_days * 86400)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    @_translating
    def answer_stats(self, *, max_age_days: float, now: float | None = None) -> list[AnswerStats]:
        """Per (task_type, status), ordered by both: how many answers, how many are
        fresh (checked within max_age_days), the oldest and newest checked_at."""
        now = self._now() if now is None else self._to_store_time(now)
        rows = self._read().execute(
            "SELECT task_type, status, COUNT(*), COUNT(*) FILTER (WHERE checked_at > ?), "
            "MIN(checked_at), MAX(checked_at) FROM answers GROUP BY 1, 2 ORDER BY 1, 2",
            (now - max_age_days * 86400,),
        ).fetchall()
        return [AnswerStats(t, s, n, fresh or 0, self._from_store_time(oldest),
                            self._from_store_time(newest))
                for t, s, n, fresh, oldest, newest in rows]

    @_translating
    def count_answers(self, *, task_type: str | None = None,
                      older_than_days: float | None = None, now: float | None = None) -> int:
        """How many answers delete_answers with the same arguments would delete."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        return self._read().execute(f"SELECT COUNT(*) FROM answers{where}", args).fetchone()[0]

    @_translating
    def delete_answers(self, *, task_type: str | None = None,
                       older_than_days: float | None = None, now: float | None = None) -> int:
        """Delete stored answers (all, or those of a task type and/or checked more than
        older_than_days before now); the journal is not touched. Returns how many."""
        where, args = self._answer_filter(task_type, older_than_days, now)
        with self._tx() as db:
            return db.execute(f"DELETE FROM answers{where}", args).rowcount
