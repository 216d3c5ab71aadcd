"""The provider contract (tgcheck.provider): states, the base class's defaults,
and ekycpro's words mapped onto the states."""

from __future__ import annotations

import pytest

from tgcheck.default_plugins.ekycpro import STATUS_WORDS, EkycproProvider, parse_task
from tgcheck.provider import FAILED, QUEUED, READY, RUNNING, STATES, Provider


class Minimal(Provider):
    name = "minimal"
    status_words = {"waiting": QUEUED, "busy": RUNNING, "ok": READY, "broken": FAILED}


def test_state_of_maps_words_case_blind_and_unknown_words_to_the_unknown_state():
    p = Minimal()
    assert [p.state_of(w) for w in ("waiting", "BUSY", "ok", "broken")] == [
        QUEUED, RUNNING, READY, FAILED]
    assert p.state_of("on_hold") is None  # unknown: polled like a task that does not move
    assert p.state_of(None) == QUEUED


def test_the_base_class_says_what_a_subclass_must_implement():
    p = Minimal()
    with pytest.raises(NotImplementedError):
        p.create_task(["+41798284651"], "tg")
    with pytest.raises(NotImplementedError):
        p.get_status("t1")
    with pytest.raises(NotImplementedError):
        p.download("https://x/r.csv")
    assert p.balance is None  # optional: `tgcheck balance` says the provider has none
    with p as same:  # a context manager that closes
        assert same is p


def test_billed_calls_count_the_create_only_where_it_is_billed():
    p = Minimal()
    assert p.billed_calls(3, created=True) == 4
    assert p.billed_calls(3, created=False) == 3
    p.create_is_billed = False
    assert p.billed_calls(3, created=True) == 3


def test_ekycpro_is_a_provider_and_its_words_map_to_states():
    assert issubclass(EkycproProvider, Provider)
    assert set(STATUS_WORDS.values()) <= STATES
    assert {w: parse_task({"task_id": "t", "status": w}).state
            for w in ("pending", "processing", "completed", "exported", "failed",
                      "on_hold")} == {"pending": QUEUED, "processing": RUNNING,
                                      "completed": READY, "exported": READY,
                                      "failed": FAILED, "on_hold": None}
    # The word itself stays, for people.
    assert parse_task({"task_id": "t", "status": "Exported"}).status == "exported"


def test_sync_check_gets_a_call_context_and_the_old_deadline_form_still_works(settings,
                                                                              sandbox):
    """SyncCheck.check takes context= (a CallContext: deadline, cancel) like the other
    calls; one written with deadline= still answers, adapted with a DeprecationWarning."""
    import dataclasses
    import functools

    import tgcheck
    from conftest import numbers
    from tgcheck.provider import CallContext, SyncCheck, SyncReply

    got = []

    class New(SyncCheck):
        task_types = frozenset({"tg"})

        def check(self, number, task_type, *, context):
            got.append(context)
            return SyncReply(value="yes", billed=True)

    with pytest.warns(DeprecationWarning, match="Old.check takes no context="):
        class Old(SyncCheck):
            task_types = frozenset({"tg"})

            def check(self, number, task_type, *, deadline):
                got.append(deadline)
                return SyncReply(value="no", billed=True)

    assert Old().check("+41790000001", "tg", context=CallContext(deadline=12.5)).value == "no"
    assert got.pop() == 12.5
    fast = dataclasses.replace(settings, sync_max=20)
    for kind, value, start in ((New, "yes", 7000), (Old, "no", 7100)):
        provider = EkycproProvider(fast)
        provider.sync = functools.partial(kind)
        provider.sync.task_types = kind.task_types
        engine = tgcheck.Engine(fast, provider=provider)
        try:
            assert [a.value for a in engine.check(numbers(3, start=start))] == [value] * 3
        finally:
            engine.close()
    assert sandbox.creates == 0
    contexts, deadlines = got[:3], got[3:]
    assert all(isinstance(c, CallContext) and c.deadline > 0 for c in contexts)
    assert len(deadlines) == 3 and all(isinstance(d, float) for d in deadlines)
