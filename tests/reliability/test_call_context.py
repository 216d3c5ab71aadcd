"""The call context replaces the side channels (issue 21 item 2): whether a create
may have reached the vendor is kept in context.request_sent by the wire and read
by the engine; retries are told to context.on_retry; a stop is context.cancel.
The wire talks HTTP to a hostile stand-in on 127.0.0.1; the engine drives an
in-process provider whose create is interrupted (real SQLite journal)."""

from __future__ import annotations

import threading

import pytest

from conftest import numbers
from hostile import HostileServer, reply
from tgcheck import Engine, Settings
from tgcheck.connect import NotSent
from tgcheck.plugin import QUEUED, Call, CallContext, Provider, Wire

KEY = "sk-Context-Key-77aa01"


def _wire(server) -> Wire:
    settings = Settings(api_key=KEY, base_url=server.url, retry_base=0.01, http_timeout=2,
                        timeout=30)
    return Wire(settings, base_url=server.url, secret=KEY,
                secret_headers={"Authorization": f"Bearer {KEY}"})


def _busy(h):
    reply(h, 429, {"message": "slow down"})


def test_ctrl_c_while_waiting_to_retry_a_create_leaves_it_unsent():
    # A 429 created nothing; Ctrl-C while the wire waits to send again: the
    # context says nothing of the create is on its way.
    def interrupt(message):
        raise KeyboardInterrupt

    context = CallContext.within(30, on_retry=interrupt)
    with HostileServer(create=_busy) as server:
        wire = _wire(server)
        with pytest.raises(KeyboardInterrupt):
            wire.create(Call("creating", "POST", "/v1/tasks", data={"a": "1"}),
                        context=context, read=lambda r: r.json())
        wire.close()
    assert server.calls["create"] == 1 and context.request_sent is False


def test_ctrl_c_after_the_create_was_sent_leaves_it_possibly_sent():
    def read(response):
        raise KeyboardInterrupt  # the reply has come: the task may exist

    context = CallContext.within(30)
    with HostileServer() as server:
        wire = _wire(server)
        with pytest.raises(KeyboardInterrupt):
            wire.create(Call("creating", "POST", "/v1/tasks", data={"a": "1"}),
                        context=context, read=read)
        wire.close()
    assert context.request_sent is True


def test_a_cancel_ends_the_wait_between_retries_with_nothing_sent():
    cancel = threading.Event()
    told = []

    def stop(message):
        told.append(message)
        cancel.set()

    context = CallContext.within(30, cancel=cancel, on_retry=stop)
    with HostileServer(create=_busy) as server:
        wire = _wire(server)
        with pytest.raises(NotSent):
            wire.create(Call("creating", "POST", "/v1/tasks", data={"a": "1"}),
                        context=context, read=lambda r: r.json())
        wire.close()
    assert server.calls["create"] == 1 and "HTTP 429" in told[0]


class Interrupted(Provider):
    """A create interrupted by Ctrl-C, having said whether its request left."""

    name = "interrupted"
    identity = "interrupted:test"
    status_words = {"waiting": QUEUED}

    def __init__(self, sent: bool):
        self.sent, self.contexts = sent, []

    def create_task(self, numbers, task_type, *, context=None):
        self.contexts.append(context)
        context.mark_sent(self.sent)
        raise KeyboardInterrupt


@pytest.mark.parametrize("sent, state", [(False, "new"), (True, "uncertain")])
def test_the_engine_reads_the_context_to_journal_an_interrupted_create(tmp_path, sent, state):
    settings = Settings(api_key="k", base_url="http://127.0.0.1:9", home=tmp_path / "home",
                        provider="interrupted", timeout=30)
    provider = Interrupted(sent)
    engine = Engine(settings, provider=provider)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.check(numbers(3))
        (job,) = engine.store.jobs()
    finally:
        engine.close()
    assert job.state == state
    (context,) = provider.contexts
    assert context.deadline > 0 and context.on_retry is not None
