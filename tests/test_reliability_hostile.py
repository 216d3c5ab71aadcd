"""Hostile or broken vendor replies (issue 12), against a misbehaving server on
127.0.0.1 (tests/hostile.py): the key echoed back through every reply field,
replies that drip or never end, bombs, result URLs aimed at private hosts,
orphaned paid tasks, and store errors told apart."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hostile import HostileServer, drip, elapsed, record, reply

import tgcheck
from conftest import numbers
from tgcheck import Settings, result_hosts
from tgcheck.cli import cli
from tgcheck.default_plugins.ekycpro import EkycproProvider

# Mixed case: status words are stored lowercased, and must be masked in any case.
KEY = "sk-Hostile-Key-0451BEEF"
VARIANTS = (KEY, KEY.lower(), KEY.upper())


def _echo(h, code=200, ctype="application/json", **fields):
    reply(h, code, record(**fields), ctype)


# Each case answers one endpoint with the key in another field of the reply.
ECHOES = {
    "failed message with escapes": dict(status=lambda h: _echo(
        h, status="failed", message=f"\x1b[31mkey {KEY} refused\x1b[0m\t\r\n")),
    "status word": dict(status=lambda h: _echo(h, status=f"Pending {KEY}")),
    "created_at and message": dict(status=lambda h: _echo(
        h, status="processing", created_at=KEY, message=KEY.lower())),
    "html page with 200": dict(status=lambda h: reply(
        h, 200, f"<html><body>maintenance {KEY}</body></html>", "text/html")),
    "json list": dict(status=lambda h: reply(h, 200, [KEY, {"task_id": KEY}])),
    "task id": dict(create=lambda h: reply(h, 200, {"task_id": KEY, "status": "pending"})),
    "task id with a tab": dict(create=lambda h: reply(
        h, 200, {"task_id": f"t\t{KEY}", "status": "pending"})),
    "400 body": dict(create=lambda h: reply(h, 400, {"message": f"bad key {KEY}"})),
    "400 html": dict(create=lambda h: reply(h, 400, f"<p>{KEY}</p>", "text/html")),
    "bad count": dict(status=lambda h: _echo(h, status="processing", total=f"{KEY}")),
    "result url": dict(status=lambda h: _echo(
        h, status="exported", result_url=f"https://{KEY}.example.com/r.csv?k={KEY}")),
    "result file values": dict(
        status=lambda h: _echo(h, status="exported",
                               result_url=h.server_url + "/r.csv"),
        files=lambda h: reply(h, 200, f"number,telegram\n+41790000000,{KEY}\n", "text/csv")),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(ECHOES))
def test_the_key_echoed_back_reaches_no_file_output_or_stream(case, tmp_path, monkeypatch,
                                                              caplog):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(3)) + "\n")
    behaviour = dict(ECHOES[case])
    with HostileServer(**behaviour) as server:
        monkeypatch.setenv("TGCHECK_API_KEY", KEY)
        monkeypatch.setenv("TGCHECK_BASE_URL", server.url)
        monkeypatch.setenv("TGCHECK_HOME", str(home))
        monkeypatch.setenv("TGCHECK_POLL_MIN", "0.01")
        monkeypatch.setenv("TGCHECK_POLL_MAX", "0.05")
        monkeypatch.setenv("TGCHECK_RETRY_BASE", "0.01")
        monkeypatch.setenv("TGCHECK_TIMEOUT", "2")
        runner = CliRunner()
        outputs = []
        for args in (["check", str(listing), "--progress", "json"],
                     ["check", str(listing), "--progress", "plain", "--resubmit", "--debug"],
                     ["jobs", "--all"], ["jobs", "--all", "--json"],
                     ["status", "t1"], ["status", "t1", "--json", "--debug"], ["resume"]):
            result = runner.invoke(cli, args, prog_name="tgcheck")
            outputs += [result.stdout, result.stderr, repr(result.exception)]
        outputs.append(caplog.text)
    assert server.calls["create"] >= 1
    files = [Path(root, name) for root, _, names in os.walk(home) for name in names]
    assert files  # the store was written: the search below looked at something
    for f in files:
        blob = f.read_bytes()
        for variant in VARIANTS:
            assert variant.encode() not in blob, (case, f)
    for text in outputs:
        for variant in VARIANTS:
            assert variant not in text, (case, text)
        assert "\x1b" not in text, (case, text)
    # `tgcheck jobs` stays a table: as many tab-separated cells on every line.
    table = [line for line in outputs[8].splitlines() if line]
    assert len({line.count("\t") for line in table}) == 1, table


# -- deadlines that hold while a reply streams in --------------------------------------

TIMEOUT = 3.0  # TGCHECK_TIMEOUT of these jobs
BOUND = TIMEOUT + 10  # the guarantee: any hostile reply ends within TGCHECK_TIMEOUT + 10 s


def _engine(server, home, **overrides) -> tgcheck.Engine:
    values = dict(api_key="k-hostile-1", base_url=server.url, home=home, poll_min=0.01,
                  poll_max=0.05, timeout=TIMEOUT, http_timeout=10, retry_base=0.01)
    values.update(overrides)
    return tgcheck.Engine(Settings(**values))


def _drip_headers(h, stop):
    """The status line, then the headers one byte a second: never a complete reply."""
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    h.wfile.flush()
    for byte in b"X-Slow: " + b"a" * 1000:
        if stop.wait(1.0):
            return
        try:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
        except OSError:
            return


def _silent(h, stop):
    stop.wait(60)  # accepts, reads the request, never answers


DRIPS = {
    "status body at 1 byte/s": dict(
        status=lambda h: drip(h, json.dumps(record("processing")).encode(), h.server_stop)),
    "status headers at 1 byte/s": dict(status=lambda h: _drip_headers(h, h.server_stop)),
    "status never answered": dict(status=lambda h: _silent(h, h.server_stop)),
    "create body at 1 byte/s": dict(
        create=lambda h: drip(h, json.dumps(record()).encode(), h.server_stop)),
    "download at 1 byte/s": dict(
        status=lambda h: _echo(h, status="exported", result_url=h.server_url + "/r.csv"),
        files=lambda h: drip(h, b"number,telegram\n" * 100, h.server_stop)),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(DRIPS))
def test_a_dripping_or_silent_reply_ends_within_the_timeout_plus_ten_seconds(case, tmp_path):
    with HostileServer(**DRIPS[case]) as server:
        engine = _engine(server, tmp_path / "home")
        took, error = elapsed(lambda: engine.check(numbers(3)))
        engine.close()
    assert isinstance(error, tgcheck.TgcheckError), error
    assert took < BOUND, (case, took)
    # A create cut off mid-reply may exist: uncertain, never retried blindly.
    if case.startswith("create"):
        assert isinstance(error, tgcheck.UncertainCreate) and server.calls["create"] == 1
    print(f"measured: {case}: ended after {took:.1f}s ({type(error).__name__})")


# -- size caps: every bomb stays under 400 MB of peak memory ---------------------------

PEAK_MB = 400
CHILD = r"""
import json, resource, sys
import tgcheck
settings = tgcheck.Settings(api_key="k-hostile-1", base_url=sys.argv[1], home=sys.argv[2],
                            poll_min=0.01, poll_max=0.05, timeout=20, http_timeout=10,
                            retry_base=0.01)
engine = tgcheck.Engine(settings)
try:
    engine.check(["+41790000000", "+41790000001", "+41790000002"])
    error = None
except tgcheck.TgcheckError as e:
    error = f"{type(e).__name__}: {e}"
print(json.dumps({"error": error,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _gzip(part: bytes, total: int, level: int = 9, head: bytes = b"") -> bytes:
    """gzip of head + `part` repeated to about `total` bytes, a megabyte at a time."""
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    block = part * ((1 << 20) // len(part))
    out = [z.compress(head)] + [z.compress(block) for _ in range(total >> 20)]
    return b"".join(out) + z.flush()


def _xlsx_bomb(shared_bytes: int) -> bytes:
    """A valid-looking xlsx whose shared-strings table unpacks to shared_bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook><sheets><sheet name='a' sheetId='1' "
                   "r:id='rId1'/></sheets></workbook>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(b"<sst>")
            chunk = b"<si><t>" + b"A" * 1000 + b"</t></si>"
            for _ in range(shared_bytes // (1 << 20)):
                f.write(chunk * ((1 << 20) // len(chunk)))
            f.write(b"</sst>")
    return buf.getvalue()


def _exported(h):
    _echo(h, status="exported", result_url=h.server_url + "/r")


def _endless(h, stop):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    block = b"[" * 65536
    frame = b"%x\r\n%s\r\n" % (len(block), block)
    while not stop.is_set():
        try:
            h.wfile.write(frame)
        except OSError:
            return


def _serve(body: bytes, encoding: str | None = None, ctype="application/octet-stream"):
    return lambda h: reply(h, 200, body, ctype,
                           {"Content-Encoding": encoding} if encoding else None)


@pytest.fixture(scope="module")
def bombs():
    gz_zeros = _gzip(b"\0", 1 << 30)  # 1 GB of zeros in ~1 MB
    csv = _gzip(b"+41791234567,yes\n", 300 << 20, level=1, head=b"number,telegram\n")
    return {
        "endless status reply": dict(status=lambda h: _endless(h, h.server_stop)),
        "gzip bomb as a status reply": dict(status=_serve(gz_zeros, "gzip",
                                                          "application/json")),
        "gzip bomb as a result file": dict(status=_exported, files=_serve(gz_zeros, "gzip")),
        "300 MB CSV gzipped": dict(status=_exported, files=_serve(csv, "gzip", "text/csv")),
        "xlsx with a 300 MB shared-strings table": dict(status=_exported,
                                                       files=_serve(_xlsx_bomb(300 << 20))),
    }


BOMBS = ("endless status reply", "gzip bomb as a status reply", "gzip bomb as a result file",
         "300 MB CSV gzipped", "xlsx with a 300 MB shared-strings table")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", BOMBS)
def test_every_bomb_is_refused_under_400_mb_of_peak_memory(case, bombs, tmp_path):
    with HostileServer(**bombs[case]) as server:
        child = subprocess.run([sys.executable, "-c", CHILD, server.url, str(tmp_path)],
                               capture_output=True, text=True, timeout=100)
    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["error"] is not None, outcome  # refused, never "all unknown, exit 0"
    assert "unexpected" not in outcome["error"]
    assert outcome["peak_mb"] < PEAK_MB, (case, outcome)
    print(f"measured: {case}: peak {outcome['peak_mb']:.0f} MB; {outcome['error'][:100]}")


# -- result hosts checked after resolution ------------------------------------------------

PUBLIC = "https://api.ekycpro.com"  # the API side only: a MockTransport answers for it


def _public_provider(tmp_path, result_url, resolver, files=None):
    """A provider aimed at a public API (answered by a MockTransport), checking
    result hosts with `resolver`. Returns it and the requests it sent."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/v1/tasks":
            return httpx.Response(200, json=record())
        if request.url.path == "/v1/gettasks":
            return httpx.Response(200, json=record("exported", result_url=result_url))
        return (files or {}).get(str(request.url), httpx.Response(404))

    settings = Settings(api_key=KEY, base_url=PUBLIC, home=tmp_path, poll_min=0.01,
                        poll_max=0.05, timeout=5, http_timeout=2, retry_base=0.01)
    provider = EkycproProvider(settings, transport=httpx.MockTransport(handler),
                               resolver=resolver)
    return tgcheck.Engine(settings, provider=provider), sent


def _fake_dns(names: dict[str, str]):
    """The system resolver, except for these names (no DNS query leaves the test)."""
    def resolve(host, port):
        if host in names:
            return [names[host]]
        return result_hosts.system_resolver(host, port)
    return resolve


@pytest.mark.parametrize("result_url", [
    "https://127.1/r.xlsx",
    "https://0x7f000001/r.xlsx",
    "https://2852039166/latest/meta-data/",  # 169.254.169.254
    "https://[::ffff:127.0.0.1]/r.xlsx",
    "https://017700000001/r.xlsx",  # octal
    "https://files.rebind.test/r.xlsx",  # a name resolving to 127.0.0.1
    "https://LOCALHOST./r.xlsx",
    "https://224.0.0.1/r.xlsx",
    "https://100.64.0.1/r.xlsx",  # shared address space
])
def test_a_result_host_resolving_to_a_private_address_is_refused_before_connecting(
        tmp_path, result_url):
    engine, sent = _public_provider(tmp_path, result_url,
                                    _fake_dns({"files.rebind.test": "127.0.0.1"}))
    with pytest.raises(tgcheck.ResultFileError, match="refusing"):
        engine.check(numbers(3))
    assert not [r for r in sent if r.url.path.startswith(("/r", "/latest"))]  # never fetched
    assert engine.store.lookup("tg", numbers(3), max_age_days=30, unknown_retry_hours=24) == {}


def test_a_redirect_to_a_name_resolving_to_loopback_is_refused_and_no_key_travels(tmp_path):
    start = "https://files.example.test/r"
    engine, sent = _public_provider(
        tmp_path, start,
        _fake_dns({"files.example.test": "93.184.215.14", "evil.test": "127.0.0.1"}),
        files={start: httpx.Response(302, headers={"Location": "https://evil.test/r"})})
    with pytest.raises(tgcheck.ResultFileError, match="refusing.*evil.test"):
        engine.check(numbers(3))
    downloads = [r for r in sent if r.url.host != "api.ekycpro.com"]
    assert downloads and all(r.url.host == "files.example.test" for r in downloads)
    for request in downloads:  # the key goes to the API only
        assert "x-api-key" not in request.headers
        assert KEY not in str(request.url)


def test_a_host_that_resolves_differently_when_connected_is_refused_by_its_peer(tmp_path):
    """DNS rebinding: the check saw a public address, the connection reached
    loopback. The peer is checked before anything is sent to it."""
    with HostileServer() as server:
        port = server.url.rsplit(":", 1)[1]
        settings = Settings(api_key=KEY, base_url=PUBLIC, home=tmp_path, timeout=5,
                            http_timeout=2, retry_base=0.01)
        provider = EkycproProvider(settings, resolver=lambda host, p: ["93.184.215.14"])
        with pytest.raises(tgcheck.ResultFileError, match="connected to 127.0.0.1"):
            provider.download(f"https://127.0.0.1:{port}/r.xlsx")
        provider.close()
    assert server.calls["files"] == 0
