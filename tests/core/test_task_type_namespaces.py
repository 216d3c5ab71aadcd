"""Issue 24 item 4: task types are namespaced by provider. Two providers that both
answer `ws` coexist; the selected provider decides what a bare name means, and
"provider:name" names either one."""

from __future__ import annotations

import contextlib

import pytest
from json_batch_provider import JsonBatchPlugin
from json_batch_server import KEY, JsonBatchServer, registered

import tgcheck
from conftest import numbers
from tgcheck import plugins
from tgcheck.errors import InputError
from tgcheck.models import TaskType

YES_NO = frozenset({"yes", "no"})
JSONBATCH_WS = TaskType("ws", "registered", YES_NO, "jsonbatch's WhatsApp check",
                        provider="jsonbatch")


class _TaskTypes:
    @tgcheck.hookimpl
    def tgcheck_register_task_types(self, register):
        register(JSONBATCH_WS)


@pytest.fixture
def two_ws():
    plugins.pm.register(JsonBatchPlugin(), "test-jsonbatch")
    plugins.pm.register(_TaskTypes(), "test-jsonbatch-types")
    yield
    plugins.pm.unregister(name="test-jsonbatch-types")
    plugins.pm.unregister(name="test-jsonbatch")


def test_the_selected_provider_decides_what_a_bare_name_means(two_ws, monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER", raising=False)
    assert plugins.get_task_type("ws").column == "whatsapp"  # the default: ekycpro's
    assert plugins.get_task_type("ws", "jsonbatch") is JSONBATCH_WS
    assert plugins.get_task_type("jsonbatch:ws") is JSONBATCH_WS
    assert plugins.get_task_type("ekycpro:ws").column == "whatsapp"
    # A type only one provider declares is found whichever is selected.
    assert plugins.get_task_type("tg", "jsonbatch").column == "telegram"
    monkeypatch.setenv("TGCHECK_PROVIDER", "jsonbatch")
    assert plugins.get_task_type("ws") is JSONBATCH_WS
    assert {"ekycpro:ws", "jsonbatch:ws"} <= set(plugins.registered_task_types())
    with pytest.raises(InputError, match="known: .*jsonbatch:ws"):
        plugins.get_task_type("nobody:ws")


def test_two_providers_offering_ws_are_both_usable(two_ws, settings, sandbox, tmp_path,
                                                   monkeypatch):
    monkeypatch.delenv("TGCHECK_PROVIDER", raising=False)
    asked = numbers(5, start=400)
    with contextlib.closing(tgcheck.Engine(settings)) as engine:
        ekycpro = engine.check(asked, task_type="ws")
    assert [t.task_type for t in sandbox.tasks.values()] == ["ws"]
    assert [a.value for a in ekycpro] == [sandbox.expected(n, "ws") for n in asked]
    with JsonBatchServer() as server:
        other = tgcheck.Settings(provider="jsonbatch", api_key=KEY, base_url=server.url,
                                 home=tmp_path / "other", poll_min=0.02, poll_max=0.1)
        with contextlib.closing(tgcheck.Engine(other)) as engine:
            answers = engine.check(asked, task_type="ws")
            [job] = engine.store.jobs()
    assert job.task_type == "ws" and job.provider.startswith("jsonbatch")
    assert [a.value for a in answers] == [
        None if registered(n) is None else ("yes" if registered(n) else "no") for n in asked]
