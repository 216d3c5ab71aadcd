"""The engine reads a provider's records by their normalised state only: a
provider with words of its own (none of ekycpro's) is driven to the same ends.
The provider is a scripted stand-in for a vendor (in process, no HTTP): what is
under test is the engine and the journal (real SQLite)."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from conftest import numbers
from tgcheck import Engine, Settings, hookimpl, plugins
from tgcheck.errors import ConfigError, TaskFailed, TaskLost
from tgcheck.models import TaskStatus
from tgcheck.provider import FAILED, LOST, QUEUED, READY, RUNNING, Provider


class _CsvReader:
    """The provider's own reader: a plain mapping, as the Reader protocol allows."""

    name = "scripted-csv"
    accepts = staticmethod(lambda data: data.startswith(b"phone,"))

    def read(self, data, task_type):
        return {n: task_type.clean(v) for n, v in csv.reader(data.decode().splitlines()[1:])}


class Scripted(Provider):
    """Answers each status call with the next word of its script (the last repeats)."""

    name = "scripted"
    identity = "scripted:test"
    status_words = {"waiting": QUEUED, "busy": RUNNING, "ok": READY, "broken": FAILED}
    readers = (_CsvReader(),)
    create_is_billed = False

    def __init__(self, script, *, lost_state: bool = False):
        self.script, self.lost_state = list(script), lost_state
        self.numbers: list[str] = []
        self.creates = self.status_calls = 0

    def _record(self, word):
        state = LOST if self.lost_state and word == "gone" else self.state_of(word)
        return TaskStatus("s1", word, total=len(self.numbers),
                          success=len(self.numbers) if state == READY else 0, failure=0,
                          result_url="mem://result" if state == READY else None,
                          state=state)

    def create_task(self, numbers, task_type, *, deadline=None):
        self.creates += 1
        self.numbers = list(numbers)
        return self._record("waiting")

    def get_status(self, task_id, *, deadline=None, on_billed=None):
        self.status_calls += 1
        if on_billed is not None:
            on_billed()
        word = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return self._record(word)

    def download(self, url, *, deadline=None, max_bytes=None):
        assert url == "mem://result"
        return ("phone,telegram\n" + "".join(f"{n},yes\n" for n in self.numbers)).encode()


@pytest.fixture
def run(tmp_path):
    engines = []

    def run(provider, values, **kw):
        settings = Settings(api_key="k", base_url="http://127.0.0.1:9", home=tmp_path / "home",
                            provider="scripted", poll_min=0.01, poll_max=0.05, timeout=30)
        engine = Engine(settings, provider=provider)
        engines.append(engine)
        events = []
        return engine.check(values, on_event=events.append, **kw), events, engine

    yield run
    for engine in engines:
        engine.store.close()


def test_a_ready_state_is_collected_whatever_the_word(run):
    provider = Scripted(["waiting", "busy", "ok"])
    answers, events, engine = run(provider, numbers(3))
    assert [a.value for a in answers] == ["yes"] * 3
    assert provider.creates == 1 and provider.status_calls == 3
    job = engine.store.jobs()[0]
    # The journal keeps the provider's word, for people.
    assert (job.state, job.status) == ("done", "ok")
    done = events[-1]
    assert done.kind == "done" and done.status == "ok"
    # The create is not billed at this provider: billed calls are its status calls.
    assert done.billed_calls == done.status_calls == 3


def test_a_failed_state_fails_the_job(run):
    provider = Scripted(["busy", "broken"])
    with pytest.raises(TaskFailed, match="'broken'"):
        run(provider, numbers(2))
    assert provider.creates == 1


def test_a_lost_state_ends_the_job_as_lost(run, tmp_path):
    provider = Scripted(["busy", "gone"], lost_state=True)
    with pytest.raises(TaskLost, match="gone at the provider"):
        run(provider, numbers(2))
    with pytest.raises(TaskLost):  # journaled as lost: the next check says so, unpaid
        run(Scripted(["ok"]), numbers(2))


def test_an_unknown_word_is_polled_like_a_task_that_does_not_move(run):
    provider = Scripted(["on_hold", "on_hold", "ok"])
    answers, _, _ = run(provider, numbers(2))
    assert all(a.value == "yes" for a in answers) and provider.creates == 1


class _OwnStateWord(Scripted):
    """Puts its own word in `state` where the contract wants READY (a typo, a case)."""

    def _record(self, word):
        record = super()._record(word)
        return dataclasses.replace(record, state="Ready") if word == "ok" else record


def test_a_state_outside_the_contract_is_read_by_the_word(run):
    # Taken on trust, "Ready" would never finish: polled to the cap, every call billed.
    provider = _OwnStateWord(["busy", "ok"])
    answers, _, engine = run(provider, numbers(2))
    assert [a.value for a in answers] == ["yes", "yes"]
    assert provider.status_calls == 2 and engine.store.jobs()[0].state == "done"


class _NotAProvider:
    """The old duck-typed shape: create/status/download, no contract."""

    name, identity = "duck", "duck:test"
    creates = 0

    def __init__(self, settings):
        pass

    def create_task(self, numbers, task_type, *, deadline=None):
        type(self).creates += 1
        return TaskStatus("d1", "exported", total=len(numbers), result_url="mem://x")

    def get_status(self, task_id, *, deadline=None):
        return TaskStatus(task_id, "exported", result_url="mem://x")

    def close(self):
        pass


def test_a_provider_outside_the_contract_is_refused_before_any_call(tmp_path):
    class Plugin:
        @hookimpl
        def tgcheck_register_providers(self, register):
            register("duck", _NotAProvider)

    plugins.pm.register(Plugin(), "test-duck")
    engine = Engine(Settings(api_key="k", base_url="http://127.0.0.1:9",
                             home=tmp_path / "home", provider="duck"))
    try:
        with pytest.raises(ConfigError, match="does not subclass tgcheck.Provider"):
            engine.check(numbers(2))
    finally:
        plugins.pm.unregister(name="test-duck")
        engine.close()
    assert _NotAProvider.creates == 0


class _FreeText(Scripted):
    """Answers free-form text: two numbers' texts differ only in their spacing."""

    def download(self, url, *, deadline=None, max_bytes=None):
        texts = ["seen  today", "seen today", "seen\tlast week"]
        texts += ["no trace"] * (len(self.numbers) - len(texts))
        return ("phone,note\n" + "".join(
            f"{n},{t}\n" for n, t in zip(self.numbers, texts, strict=True))).encode()


def test_texts_that_read_the_same_once_cleaned_keep_every_number(run):
    """The redaction point collapses spaces: two answers the vendor wrote apart
    become one answer in the store, and neither number's paid answer is lost."""
    from tgcheck.models import TaskType

    class Notes:
        @hookimpl
        def tgcheck_register_task_types(self, register):
            register(TaskType("note", "note"))

    plugins.pm.register(Notes(), "test-notes")
    try:
        asked = numbers(4, start=600)
        answers, _, engine = run(_FreeText(["ok"]), asked, task_type="note")
        assert [(a.number, a.value) for a in answers] == [
            (asked[0], "seen today"), (asked[1], "seen today"),
            (asked[2], "seen last week"), (asked[3], "no trace")]
        stored = engine.store.lookup("note", asked, max_age_days=30, unknown_retry_hours=24)
        assert {n: stored[n][0] for n in asked} == {
            asked[0]: "seen today", asked[1]: "seen today",
            asked[2]: "seen last week", asked[3]: "no trace"}
    finally:
        plugins.pm.unregister(name="test-notes")
