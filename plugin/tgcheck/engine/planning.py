"""Planning a check: normalise, look up, the fast path, the minimum, the chunks.

From the caller's values to the sets of numbers that become tasks: what is
invalid is answered here, what the store knows is taken from it, a few new
numbers may be asked one by one (fast_path), a set below the minimum task size
is refused or topped up, and the rest is cut into chunks, run in parallel, each
handed to the jobs part (one job per set). A 413 splits a chunk here too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import compress, repeat
from operator import lt
from typing import TYPE_CHECKING

from .. import fast_path, plugins, regions
from ..answer_column import group_codes, number_of
from ..errors import BelowMinimum, Cancelled, TaskTooLarge
from ..main_waits import MAIN_WAIT
from ..models import BLANK, INVALID, OK, JobEvent, TaskType
from ..normalize import Region, all_e164_form, for_every_row, resolve_all, resolve_rest
from ..reasons import most_frequent_first, tally_reasons
from ..store import AnswerGroup
from .answers import _groups_of, sent_numbers
from .cancel import _on_main_thread, _Stop
from .part import EnginePart
from .request import CheckRequest, _Fill, number_set_key, tell

if TYPE_CHECKING:
    from ..compact_answers import CompactAnswers

# Seconds by which "stored since my lookup" reaches back (see _answered_since).
CLOCK_MARGIN = 60.0


def _part_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of the fewest parts of at most size of total items, equal in
    size (they differ by one at most)."""
    count = -(-total // size)
    return [(i * total // count, (i + 1) * total // count) for i in range(count)]


def _equal_parts(numbers: list, size: int) -> list[list]:
    """numbers in the fewest parts of at most size, equal in size (they differ by one
    at most)."""
    return [numbers[start:stop] for start, stop in _part_bounds(len(numbers), size)]


def row_counts(values: list, found: list, numbers: list, into: dict | None = None
               ) -> dict[str, object]:
    """plan()'s counts of an input's rows: "inputs", "valid", "invalid", "blank",
    and under "reasons" each reason code's count and a few example inputs (the
    rows not sent, and the noted ones; in the order first met: plan() shows them
    most frequent first). found: resolve_all's reading of values, numbers:
    sent_numbers(found); into: the counts of earlier rows (an input read in
    chunks), added to and returned."""
    counts = into or {"inputs": 0, "valid": 0, "invalid": 0, "blank": 0, "reasons": {}}
    problems = [f.status for f in found if type(f) is not str and f.status != OK]
    counts["inputs"] += len(found)
    counts["valid"] += len(numbers)
    counts["invalid"] += problems.count(INVALID)
    counts["blank"] += problems.count(BLANK)
    tally_reasons(counts["reasons"], values, found)
    return counts


class Planning(EnginePart):
    """From values to tasks (see the module's docstring); one per Engine."""

    def __init__(self, engine):
        super().__init__(engine)
        # The largest task the provider has accepted after refusing a larger one
        # as too large (413): later sets are split to it up front.
        self._size_cap: int | None = None

    def _grouped(self, values, request: CheckRequest
                 ) -> tuple[list, set[str] | None, list[AnswerGroup], list[int] | None]:
        """The path of check() and check_column(): per value its E.164 string or
        its problem, the distinct numbers (None: not made, the store answered
        every one), their answers as groups (stored ones, then those of the tasks
        sent for the rest), and when the store answered
        every number, the join already made (answer_column.group_codes of the
        numbers sent; else None)."""
        ttype = plugins.get_task_type(request.task_type, self.settings.provider)
        self.engine.attach_recovered()
        since = self._answered_since(time.time(), request.retry_unknown)
        found, numbers, wanted, groups, codes = self._known(
            values, request.region, ttype, self.freshness(request.retry_unknown, ttype))
        # The numbers no group holds, found by the join the answers need anyway (a
        # cached run: all are answered, proved by no code -1), not by a set
        # difference as well (200,000 numbers: 0.06 s) hashing every group's fresh
        # strings a second time. Sorted: a set's journal key and its task file
        # must not depend on order. Deduplicated in the column's order (a dict),
        # or not at all when nothing repeats: a sort of strings read in their
        # file's order reads memory in order, one of a set's order does not
        # (200,000 numbers: 0.06-0.08 s against 0.12-0.17 s).
        if codes is None:
            missing = sorted(numbers if len(numbers) == len(wanted) else dict.fromkeys(numbers))
        elif -1 in codes:
            missing = sorted(dict.fromkeys(compress(numbers, map(lt, codes, repeat(0)))))
        else:
            missing = []
        if missing:  # wanted is a set here: made whenever a number lacks an answer
            for fetched in self._fetch(ttype, missing, wanted, request, since):
                groups.extend(fetched)
        return found, wanted, groups, None if missing else codes

    def _known(self, values: list, region, ttype: TaskType, freshness: dict
               ) -> tuple[list, list[str], set[str] | None, list[AnswerGroup],
                          list[int] | None]:
        """values read and looked up in the store: (found, resolve_all's reading
        of each; numbers, sent_numbers(found); wanted, their set, None when the
        store answers every number (no set made: the answer column makes it if
        asked); groups, the stored answers; codes, group_codes(numbers, groups),
        None for no group).

        A column every cell of which is written as E.164 ("+" and digits, no 0
        after the "+": a cached re-run on clean numbers, or on tgcheck's own
        output) is looked up as it stands first: a cell the store answers is that
        number, normalised and validated before it was ever sent, and is not
        read again (200,000 numbers: normalising them cost 0.11-0.13 s). Only the
        cells the store does not answer go through resolve_all: an invalid one
        is answered locally and never sent, as always. A per-row region (one
        that names no region notes an international number) reads every cell."""
        if for_every_row(region) and all_e164_form(values):
            regions.fixed_region(region)  # an unknown region is refused all the same
            # As they stand, duplicates too: the store's IN and ANY take a number
            # once, and no set of 200,000 numbers is made first (0.013 s) where
            # every one is answered (the set is made below when one is not).
            groups = self.store.lookup_groups(ttype.name, values, **freshness)
            codes = group_codes(values, groups) if groups else None
            if codes is not None and -1 not in codes:
                # The store answers every cell: none is read.
                return values.copy(), values.copy(), None, groups, codes
            # The cells the store answers are taken as they stand, the rest read.
            found = (resolve_all(values, region) if codes is None
                     else resolve_rest(values, [code >= 0 for code in codes], region))
            if found == values:
                # Each cell not answered is a valid number as it stands, looked up
                # already (a cold run on a clean column).
                return values.copy(), values.copy(), set(values), groups, codes
            numbers = sent_numbers(found)
            wanted = set(numbers)
            # A cell read as another number ("+3306..." is "+336...") was not
            # looked up: those numbers are now.
            other = {number_of(f) for f, cell in zip(found, values, strict=True)
                     if f != cell}
            other.discard(None)
            if other:
                groups.extend(self._look_up(ttype, sorted(other), other, freshness))
            return found, numbers, wanted, groups, (group_codes(numbers, groups)
                                                    if groups else None)
        found = resolve_all(values, region)  # E.164 str, or a Normalised problem
        numbers = sent_numbers(found)
        wanted = set(numbers)
        groups = self._look_up(ttype, numbers, wanted, freshness)
        return found, numbers, wanted, groups, group_codes(numbers, groups) if groups else None

    def _look_up(self, ttype: TaskType, numbers: list[str], wanted: set[str],
                 freshness: dict) -> list[AnswerGroup]:
        """The store's answers of numbers (wanted: their set) as groups."""
        # Distinct numbers (the usual column) are looked up as a list in the input's
        # order: the store's walks over them (a range read's first and last, a
        # probe's sort) then read the strings in the order they were made, not in
        # the set's hash order (200,000 numbers' first and last: 0.006 s, not 0.04).
        return self.store.lookup_groups(
            ttype.name, numbers if len(numbers) == len(wanted) else wanted, **freshness)

    def check_compact(self, answers: CompactAnswers, request: CheckRequest,
                      lookup_size: int) -> None:
        """_grouped for a check of millions that holds its numbers compactly (the
        CLI's chunked check): answers' numbers (sorted, distinct, already
        normalised) are looked up lookup_size at a time and the rest sent as
        _grouped sends them (the same tasks: the same sorted numbers cut the same
        way); every answer is recorded in answers, none held here."""
        # numpy, imported by the runs that hold millions: not by every engine.
        from ..compact_answers import Decoded, as_strs

        ttype = plugins.get_task_type(request.task_type, self.settings.provider)
        self.engine.attach_recovered()
        since = self._answered_since(time.time(), request.retry_unknown)
        missing = Decoded(self._look_up_compact(  # sorted as a list of str sorts
            answers, ttype, self.freshness(request.retry_unknown, ttype), lookup_size))

        def wanted() -> set[str]:
            # Only a task below the minimum, topped up, needs the set (to leave it out).
            return set(as_strs(answers.numbers))

        for fetched in self._fetch(ttype, missing, wanted, request, since):
            answers.record(fetched)

    def _look_up_compact(self, answers: CompactAnswers, ttype: TaskType, freshness: dict,
                         lookup_size: int):
        """Record the stored answers of answers' numbers, looked up lookup_size at
        a time; the numbers still without one (a sorted array)."""
        from ..compact_answers import as_strs, distinct

        missing_parts = []
        for start, stop in _part_bounds(len(answers), lookup_size) if len(answers) else ():
            # A sorted list, not a set: the store sorts what it probes the index
            # with, and a sorted list costs it no sort (1 s of CPU per 1,000,000).
            answers.record(self.store.lookup_groups(
                ttype.name, as_strs(answers.numbers[start:stop]), **freshness))
            missing_parts.append(answers.missing(start, stop))
        return distinct(missing_parts)

    def _fetch(self, ttype, missing, wanted, request: CheckRequest, since: float
               ) -> Iterator[list[AnswerGroup]]:
        """The answers of the numbers the store lacks (missing: sorted, a list or a
        compact_answers.Decoded) as groups, a job's at a time: a few asked one by
        one first (the fast path), a set below the minimum refused or topped up,
        the rest sent in chunks. wanted: the check's numbers (or a callable that
        makes them), left out of a top-up."""
        if not isinstance(missing, list) and len(missing) <= max(
                self.settings.sync_max, self.minimum(ttype) or 0):
            missing = missing[0:len(missing)]  # a few: as a list, as _grouped has them
        if 0 < len(missing) <= self.settings.sync_max and fast_path.applies(
                self.settings, self.provider, ttype, missing):
            # A few new numbers: asked one by one first; the rest go to one task.
            # The set's own journal key: a fast path cut off by a crash is a job
            # like any other, which `resume` or the next check finishes as a task.
            key = number_set_key(self.provider.identity, ttype.name, missing)
            answered, missing, job_id = fast_path.run(
                self.engine, missing, request.with_(ttype=ttype, since=since), key)
            yield _groups_of(answered)
            if job_id is not None:
                request = request.with_(settled=frozenset({job_id}))
        sent = self._at_least_minimum(ttype, missing, wanted, request.top_up)
        taken: set[str] = set()
        if len(sent) > len(missing):
            # Topped up: the stored answers added are to be checked again, even those a
            # job stored moments ago (which would otherwise count as "just answered").
            since = time.time()
            taken = set(sent).difference(missing)
        # Each task (a chunk, a 413 half, the rest after an overlap) is checked
        # against the minimum again before its create; fillers are taken once.
        fill = _Fill(request.top_up, wanted, taken)
        request = request.with_(ttype=ttype, since=since, fill=fill)
        for result in self._send(sent, request):
            yield _groups_of(result)

    def minimum(self, ttype: TaskType) -> int | None:
        """Fewest numbers a task of this type may hold (TGCHECK_MIN_TASK_SIZE, else the
        task type's own), None when there is no minimum."""
        least = self.settings.min_task_size
        if least is None:
            least = ttype.min_task_size
        return least or None

    def _at_least_minimum(self, ttype, missing: list[str], wanted: set[str],
                          top_up: bool | None) -> list[str]:
        """The numbers to send, refused before any call when they are fewer than the
        minimum task size, or filled up to it with the stalest stored answers of the
        type (top-up: those are checked again and their answers refreshed)."""
        least = self.minimum(ttype)
        if not least or not missing or len(missing) >= least:
            return missing
        short = least - len(missing)
        top_up = self.settings.top_up if top_up is None else top_up
        if callable(wanted):
            wanted = wanted()
        filler = self.store.stalest(ttype.name, short, exclude=wanted) if top_up else []
        if len(filler) >= short:
            return sorted(missing + filler)
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        how = (f"--top-up found only {len(filler)} stored {ttype.name} answers to check "
               "again" if top_up else
               "or use --top-up (Python: top_up=True; SQL and Excel: TGCHECK_TOP_UP=1) to "
               f"fill the task with the {short} stalest stored answers, checked again")
        raise BelowMinimum(
            f"{len(missing)} new number{'s' if len(missing) != 1 else ''}; {ttype.name} tasks "
            f"take at least {least}: add {short}, {how}. New: {shown}")

    def plan(self, values: Iterable[object], *, task_type: str = "tg",
             region: Region = None, retry_unknown: bool = False,
             top_up: bool | None = None) -> dict[str, object]:
        """What a check would do, without any API call (the CLI's --dry-run): counts,
        and under "reasons" each reason code's count and a few example inputs. With
        top-up (top_up, else the settings'), "topped_up": the stored answers a task
        below the minimum would be filled with (checked again, so billed too)."""
        ttype = plugins.get_task_type(task_type, self.settings.provider)
        values = values if isinstance(values, list) else list(values)
        found = resolve_all(values, region)
        numbers = sent_numbers(found)
        distinct = set(numbers)
        known = self.store.lookup(ttype.name, distinct, **self.freshness(retry_unknown, ttype))
        return self._planned(ttype, row_counts(values, found, numbers), len(distinct),
                             len(known), lambda: distinct,
                             lambda: distinct.difference(known), top_up)

    def plan_compact(self, answers: CompactAnswers, rows: dict, *, task_type: str = "tg",
                     retry_unknown: bool = False, top_up: bool | None = None,
                     lookup_size: int) -> dict[str, object]:
        """plan() for a dry run over millions held compactly (the CLI's chunked
        input): answers' distinct numbers are looked up as check_compact looks
        them up; rows: the input's own counts ("inputs", "valid", "invalid",
        "blank", "reasons"), counted a chunk at a time by the caller."""
        from ..compact_answers import as_strs

        ttype = plugins.get_task_type(task_type, self.settings.provider)
        missing = self._look_up_compact(answers, ttype,
                                        self.freshness(retry_unknown, ttype), lookup_size)
        return self._planned(ttype, rows, len(answers), len(answers) - len(missing),
                             lambda: set(as_strs(answers.numbers)),
                             lambda: set(as_strs(missing)), top_up)

    def _planned(self, ttype: TaskType, rows: dict, distinct: int, answered: int,
                 wanted, new, top_up: bool | None) -> dict[str, object]:
        """plan()'s result: rows, the input's counts (planning.row_counts); distinct
        valid numbers, of which answered are in the store; "to_send", "topped_up"
        (the stored answers a task below the minimum would be filled with) and
        "fast_path". wanted and new make the check's distinct numbers and those to
        send (sets), asked only when a top-up or the fast path could apply."""
        to_send = distinct - answered
        plan = {**{k: rows[k] for k in ("inputs", "valid", "invalid", "blank")},
                "duplicates": rows["valid"] - distinct, "already_answered": answered}
        least = self.minimum(ttype)
        top_up = self.settings.top_up if top_up is None else top_up
        topped = {}
        if top_up and least and 0 < to_send < least:
            filler = self.store.stalest(ttype.name, least - to_send, exclude=wanted())
            if len(filler) >= least - to_send:  # else the check refuses, as it would
                topped = {"topped_up": len(filler)}
        few = 0 < to_send <= self.settings.sync_max
        return {**plan, "to_send": to_send, **topped,
                **(self._fast_path_plan(ttype, new()) if few else {}),
                "reasons": most_frequent_first(rows["reasons"])}

    def _fast_path_plan(self, ttype: TaskType, new: set[str]) -> dict[str, int]:
        """plan()'s "fast_path": how many of the numbers to send would be asked one
        by one first (their misses then go to the task), decided by the provider's
        declaration with or without a key (fast_path.planned)."""
        return {"fast_path": len(new)} if fast_path.planned(self.engine, ttype, new) else {}

    def freshness(self, retry_unknown: bool, ttype: TaskType) -> dict:
        """The store lookup's freshness keywords for ttype under these settings
        (also the SQL face's memo's: answer_memo._fresh)."""
        return {"max_age_days": self.settings.max_age_days,
                # An answer stored without the fields its task type declares
                # (before they were kept) is no answer to it.
                "needs_fields": bool(ttype.fields),
                "unknown_retry_hours": self.settings.unknown_retry_hours,
                "retry_unknown": retry_unknown,
                # An answer is a fact about the number, whoever gave it; this
                # setting reuses only the selected provider's.
                "provider": self.settings.provider if self.settings.same_provider_only
                else None}

    def _send(self, missing: list[str], request: CheckRequest
              ) -> Iterator[dict[str, tuple]]:
        """Answers for the numbers the store lacks (sorted): one job per chunk, run
        in parallel; each chunk's answers are handed over as soon as its job is
        done, not all held until the last one is.

        After a chunk fails, chunks not yet started are not sent: the caller
        gets the error without paying for more tasks first. Chunks already
        running finish, and their answers are stored for the next run.
        """
        if not missing:
            return
        size = min(self.settings.max_task_size, self._size_cap or self.settings.max_task_size)
        # Equal chunks (sizes differ by one at most), not full ones and a remainder:
        # 100,020 numbers are two tasks of 50,010, not 100,000 and a 20 below the
        # minimum task size.
        # Each chunk is cut from missing when its job starts: a run's millions of
        # numbers (tgcheck.compact_answers.Decoded) are never all made str at once.
        bounds = _part_bounds(len(missing), size)
        if len(bounds) == 1 and not _on_main_thread():
            # No Ctrl-C can reach this thread (SQL's and Excel's helper threads):
            # the job runs here, its waits woken by the caller's cancel at once.
            yield self._sized_job(missing[0:len(missing)], request)
            return
        failed = threading.Event()

        def run(where):
            if failed.is_set():
                return None  # another chunk failed: the caller gets its error
            if stop.interrupted():
                raise Cancelled("stopped before the task was created; the next call creates it")
            try:
                # In a list the caller empties: a finished future keeps no answers
                # (the futures are held until the last chunk is done).
                return [self._sized_job(missing[where[0]:where[1]],
                                        request.with_(cancel=stop))]
            except BaseException:
                failed.set()  # set before this future completes: no later chunk starts
                raise

        workers = min(self.settings.max_parallel_tasks, len(bounds))
        # Ctrl-C reaches only the main thread, so there even one chunk's job runs
        # on a worker: an interrupt never cuts a create mid-request. The workers
        # are told through `stop`, and not waited for, so that an interrupt ends
        # the check at once however many tasks are in flight: each releases its
        # job (it stays open: the next run attaches) at its next wait, and none
        # starts a create after the stop. A create already on its way finishes and
        # is journaled: the caller waits for those (self.creates) before it exits.
        stop = _Stop(request.cancel)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="tgcheck-job")
        interrupted = False
        futures = [pool.submit(run, where) for where in bounds]
        try:
            # main_waits.completed, written out: short waits hear Ctrl-C whichever
            # thread took it, and no frame of another module joins the stack a
            # create is reached through (test_layout counts them).
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=MAIN_WAIT, return_when=FIRST_COMPLETED)
                for future in done:
                    box = future.result()
                    if box is not None:
                        yield box.pop()
        except KeyboardInterrupt:
            interrupted = True
            self.creates.in_flight(stop)  # stop set under the gate's lock
            raise
        finally:
            for future in futures:
                future.cancel()  # those not started yet, if the caller stops early
            pool.shutdown(wait=not interrupted, cancel_futures=True)

    def _sized_job(self, numbers, request: CheckRequest) -> dict[str, tuple]:
        """_shared_job, and when the provider refuses the file as too large (413,
        nothing created), the set split in halves, each its own task, as often as
        needed. The count of tasks is told (an event) before they are created.
        With fill, a task below the minimum size is topped up or refused first."""
        cap = self._size_cap
        if cap and len(numbers) > cap:
            # A 413 taught a smaller size since this set was cut (the other half
            # of a refused set, a chunk cut before): split now, not after a 413.
            parts = _equal_parts(numbers, cap)
            self._notify(request, len(numbers),
                         f"sending {len(numbers):,} numbers as {len(parts)} tasks of up to "
                         f"{cap:,}: the provider refused larger ones as too large")
            return self._sized_parts(parts, request)
        ttype, fill = request.ttype, request.fill
        least = self.minimum(ttype)
        if fill is not None and least and len(numbers) < least:
            with fill.lock:
                wanted = fill.wanted() if callable(fill.wanted) else fill.wanted
                sent = self._at_least_minimum(ttype, numbers, wanted | fill.taken,
                                              fill.top_up)
                fill.taken.update(sent)  # two tasks never top up with the same numbers
            if len(sent) > len(numbers):
                # The fillers are to be checked again (see _grouped).
                request = request.with_(since=time.time())
            numbers = sent
        try:
            return self.engine.jobs._shared_job(numbers, request)
        except TaskTooLarge as e:
            if len(numbers) < 2:
                raise
            half = (len(numbers) + 1) // 2
            self._size_cap = size = min(self._size_cap or half, half)
            parts = _equal_parts(numbers, size)
            self._notify(request, len(numbers),
                         f"the provider refused {len(numbers)} numbers as too large ({e}); "
                         f"sending them as {len(parts)} tasks of up to {size:,}")
        return self._sized_parts(parts, request)

    def _sized_parts(self, parts, request: CheckRequest) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for part in parts:
            found.update(self._sized_job(part, request))
        return found

    def _notify(self, request: CheckRequest, count: int, message: str) -> None:
        """A note about no one job (a split): a progress event without a task."""
        tell(request, JobEvent(kind="progress", job_key="",
                                     task_type=request.ttype.name, numbers=count,
                                     message=message, simulated=self.settings.simulated))

    def _answered_since(self, looked_up_at: float, retry_unknown: bool = False) -> float:
        """Answers stored after this were not seen by a lookup at looked_up_at.

        A margin for the writer whose clock read came a little before its
        commit (it waited for the lock, wrote many rows); never older than
        the freshness limit, so `--max-age 0` still checks again, and none
        when the caller asked to resend what a recent job left unknown.
        """
        if retry_unknown:
            return looked_up_at
        return max(looked_up_at - CLOCK_MARGIN,
                   looked_up_at - self.settings.max_age_days * 86400)
