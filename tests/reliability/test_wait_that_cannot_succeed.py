"""A wait that cannot succeed says so (issue 22, item 4): every retry is told
(stderr line, JSON event); a base URL that answers "not this endpoint" (404, 405,
501) stops at once naming it; a create that keeps failing with 5xx stops after
TGCHECK_SERVER_ERROR_BUDGET, not after TGCHECK_TIMEOUT, and leaves nothing that
blocks its numbers. Against real servers on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import tgcheck
from conftest import numbers
from hostile import HostileServer, record, reply
from processes import run as tg
from tgcheck import Settings
from tgcheck.server_errors import ServerErrors, WrongEndpoint


@pytest.fixture
def static_site(tmp_path):
    """`python3 -m http.server`: a static file server, 501 to every POST."""
    (tmp_path / "site").mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _env(tmp_path, url, **extra) -> dict:
    import os

    env = dict(os.environ, TGCHECK_API_KEY="k-wait-1", TGCHECK_BASE_URL=url,
               TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_POLL_MIN="0.02",
               TGCHECK_POLL_MAX="0.2", TGCHECK_LOAD_PLUGINS="", TGCHECK_RETRY_BASE="0.01")
    env.update(extra)
    return env


@pytest.mark.timeout(120)
def test_a_static_file_server_as_base_url_stops_at_once_naming_it(static_site, tmp_path):
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(3)) + "\n")
    # The default timeout (4 hours) would be the bound without the fix.
    result = tg("check", str(listing), "--progress", "json",
                env=_env(tmp_path, static_site), timeout=60)
    assert result.returncode == 2, result.stderr  # a setting to fix
    error = result.stderr.splitlines()[-1]
    assert static_site in error and "HTTP 501" in error and "TGCHECK_BASE_URL" in error
    assert "Nothing was created" in error


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code", [404, 405, 501])
def test_not_this_endpoint_on_create_is_not_retried_and_blocks_nothing(code, tmp_path):
    with HostileServer(create=lambda h: reply(h, code, "<html>no</html>", "text/html")) as s:
        engine = tgcheck.Engine(Settings(api_key="k-wait-1", base_url=s.url,
                                         home=tmp_path / "home", retry_base=0.01))
        with pytest.raises(WrongEndpoint, match=f"{s.url} answered HTTP {code}"):
            engine.check(numbers(3))
        assert s.calls["create"] == 1
        [job] = engine.store.jobs(states=None)
        assert job.state == "failed"  # never uncertain: a 4xx/501 created nothing
        # Once the server answers, the same numbers are created without --resubmit.
        s.create = lambda h: reply(h, 200, record())
        s.status = lambda h: reply(h, 200, record("failed", message="stopped"))
        with pytest.raises(tgcheck.TaskFailed):
            engine.check(numbers(3))
        engine.close()
    assert s.calls["create"] == 2


@pytest.mark.timeout(60)
def test_a_create_failing_with_5xx_stops_after_the_budget_each_retry_told(tmp_path):
    events = []
    with HostileServer(create=lambda h: reply(h, 503, {"message": "busy"})) as s:
        engine = tgcheck.Engine(Settings(
            api_key="k-wait-1", base_url=s.url, home=tmp_path / "home", retry_base=0.01,
            server_error_budget=0.5))  # timeout stays the default 4 hours
        with pytest.raises(ServerErrors, match="TGCHECK_SERVER_ERROR_BUDGET"):
            engine.check(numbers(3), on_event=events.append)
        retries = [e for e in events if e.kind == "retry"]
        assert s.calls["create"] >= 2 and len(retries) == s.calls["create"] - 1
        assert all("HTTP 503" in e.message and s.url in e.message for e in retries)
        [job] = engine.store.jobs(states=None)
        assert job.state == "failed"  # a 5xx is free: nothing created, nothing uncertain
        s.create = lambda h: reply(h, 200, record())
        s.status = lambda h: reply(h, 200, record("failed", message="stopped"))
        calls = s.calls["create"]
        with pytest.raises(tgcheck.TaskFailed):
            engine.check(numbers(3))  # the numbers are not blocked
        engine.close()
    assert s.calls["create"] == calls + 1


@pytest.mark.timeout(120)
def test_every_retry_of_a_status_call_is_a_json_event_and_a_stderr_line(tmp_path):
    answers = iter([500, 503, 429])

    def status(h):
        code = next(answers, 200)
        if code != 200:
            reply(h, code, {"message": "later"}, headers={"Retry-After": "0"})
        else:
            reply(h, 200, record("failed", message="stopped"))

    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(3)) + "\n")
    with HostileServer(status=status) as s:
        result = tg("check", str(listing), "--progress", "json", env=_env(tmp_path, s.url))
    events = [json.loads(line) for line in result.stderr.splitlines()
              if line.startswith("{")]
    retries = [e["message"] for e in events if e["event"] == "retry"]
    assert [m.split("HTTP ")[1][:3] for m in retries] == ["500", "503", "429"], retries
    answers = iter([500])
    with HostileServer(status=status) as s:
        plain = tg("check", str(listing), "--progress", "plain",
                   env=_env(tmp_path, s.url, TGCHECK_HOME=str(tmp_path / "home2")))
    assert "HTTP 500" in plain.stderr and "retry in" in plain.stderr


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_the_server_error_budget_refuses_nonsense(monkeypatch, value):
    monkeypatch.setenv("TGCHECK_SERVER_ERROR_BUDGET", value)
    with pytest.raises(tgcheck.ConfigError, match="TGCHECK_SERVER_ERROR_BUDGET"):
        Settings.from_env()


def test_the_server_error_budget_is_read(monkeypatch):
    monkeypatch.setenv("TGCHECK_SERVER_ERROR_BUDGET", "7")
    assert Settings.from_env().server_error_budget == 7.0
    assert Settings().server_error_budget == 300.0


@pytest.mark.timeout(60)
def test_a_web_page_answering_a_create_with_200_names_the_base_url_and_stays_uncertain(
        tmp_path):
    """A 2xx is what the vendor bills: kept uncertain, but said to be a web page."""
    page = "<html><body>Welcome</body></html>"
    with HostileServer(create=lambda h: reply(h, 200, page, "text/html")) as s:
        engine = tgcheck.Engine(Settings(api_key="k-wait-1", base_url=s.url,
                                         home=tmp_path / "home", retry_base=0.01))
        with pytest.raises(tgcheck.UncertainCreate, match="with a web page") as e:
            engine.check(numbers(3))
        [job] = engine.store.jobs(states=None)
        engine.close()
    assert s.url in str(e.value) and "TGCHECK_BASE_URL" in str(e.value)
    assert job.state == "uncertain" and s.calls["create"] == 1
