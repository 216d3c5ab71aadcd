"""The core's wire (tgcheck.wire) used directly, as a provider other than ekycpro
would: a call described, the wire owning retries, budgets and billed counting,
against a stand-in on 127.0.0.1 (hostile.py). A provider on it
writes no retry loop of its own to get these."""

from __future__ import annotations

import pytest

from hostile import HostileServer, reply
from tgcheck import Settings
from tgcheck.billed_calls import BilledCalls, BudgetSpent
from tgcheck.errors import UncertainCreate
from tgcheck.provider import CallContext
from tgcheck.server_errors import ServerErrors, WrongEndpoint
from tgcheck.wire import Call, Wire

KEY = "sk-Wire-Key-31f0c2aa"


def _wire(server, **settings) -> Wire:
    values = dict(api_key=KEY, base_url=server.url, retry_base=0.01, http_timeout=2,
                  timeout=30)
    values.update(settings)
    return Wire(Settings(**values), base_url=server.url, secret=KEY,
                secret_headers={"Authorization": f"Bearer {KEY}"}, user_agent="wire-test")


def _refuse(response, what):
    if response.status_code >= 400:
        raise AssertionError(f"{what}: refused HTTP {response.status_code}")


def _cut_short_200(h):
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b'{"ok"')
    h.close_connection = True


@pytest.mark.timeout(60)
def test_a_query_counts_billed_replies_from_the_status_line_and_holds_the_budget():
    counted = []
    on_billed = BilledCalls(lambda: counted.append(1), lambda: len(counted) >= 2)
    with HostileServer(status=_cut_short_200) as server:
        wire = _wire(server)
        with pytest.raises(BudgetSpent):
            wire.query(Call("polling", "POST", "/status"), deadline=None, refuse=_refuse,
                       read=lambda r: r.json(), on_billed=on_billed)
        wire.close()
    assert server.calls["status"] == len(counted) == 2


@pytest.mark.timeout(60)
def test_a_query_retries_told_and_then_read():
    told = []
    replies = iter([503, 429])

    def status(h):
        code = next(replies, 200)
        reply(h, code, {"status": "ok" if code == 200 else "later"})

    with HostileServer(status=status) as server:
        wire = _wire(server)
        context = CallContext.within(30, on_retry=told.append)
        data = wire.query(Call("polling", "POST", "/status"), context=context,
                          refuse=_refuse, read=lambda r: r.json())
        wire.close()
    assert data == {"status": "ok"}
    assert [m.split("HTTP ")[1][:3] for m in told] == ["503", "429"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code, error", [(501, WrongEndpoint), (405, WrongEndpoint),
                                         (504, UncertainCreate), (503, ServerErrors)])
def test_a_create_stops_as_its_reply_says(code, error):
    with HostileServer(create=lambda h: reply(h, code, {"message": "no"})) as server:
        wire = _wire(server, server_error_budget=0.3)
        with pytest.raises(error):
            wire.create(Call("creating", "POST", "/v1/tasks", data={"a": "b"}),
                        deadline=None, refuse=_refuse, read=lambda r: r.json())
        wire.close()
    assert (server.calls["create"] > 1) == (code == 503)  # only a 5xx is tried again


@pytest.mark.timeout(60)
def test_the_balance_on_a_server_without_it_stops_at_once():
    from tgcheck.default_plugins.ekycpro import EkycproProvider

    with HostileServer(files=lambda h: reply(h, 405, "<p>no</p>", "text/html")) as server:
        provider = EkycproProvider(Settings(api_key=KEY, base_url=server.url,
                                            retry_base=0.01))
        with pytest.raises(WrongEndpoint, match=f"{server.url} answered HTTP 405"):
            provider.balance()
        provider.close()
    assert server.calls["files"] == 1
