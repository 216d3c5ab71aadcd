"""The API key never appears in output, logs, exceptions, reprs or stored files,
whatever fails on the way."""

import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import tgcheck
from conftest import child_env, let_go_of, numbers
from tgcheck import Settings
from tgcheck.cli.doctor import doctor_command
from tgcheck.sandbox import Faults, Sandbox

KEY = "sk-live-7f3a9c2e41b8d6"


@pytest.fixture
def keyed(tmp_path):
    with Sandbox(api_key=KEY) as sb:
        yield sb, Settings(api_key=KEY, base_url=sb.url, home=tmp_path / "home",
                           poll_min=0.02, poll_max=0.2, retry_base=0.01)


def _files_under(path):
    for root, _, files in os.walk(path):
        for name in files:
            yield os.path.join(root, name)


def test_key_absent_from_logs_reprs_exceptions_and_store(keyed, caplog):
    sandbox, settings = keyed
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and tgcheck at their most verbose
    engine = tgcheck.Engine(settings)
    seen = [repr(settings), str(settings), repr(engine), repr(engine.provider),
            repr(settings.api_key), f"{settings.api_key}", repr(sandbox)]

    answers = engine.check(numbers(20))
    seen += [repr(a) for a in answers]

    failures = []
    sandbox.fail_next("create", "drop_after")
    with pytest.raises(tgcheck.UncertainCreate) as e1:
        engine.check(numbers(5, start=100))
    failures.append(e1.value)
    sandbox.fail_next("create", "400")
    with pytest.raises(tgcheck.BadRequest) as e2:
        engine.check(numbers(5, start=200))
    failures.append(e2.value)
    with pytest.raises(tgcheck.KeyRefused) as e3:
        wrong = dataclasses.replace(settings, api_key=KEY + "x")
        tgcheck.Engine(wrong).check(numbers(1, start=300))
    failures.append(e3.value)
    for exc in failures:
        seen += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]

    assert engine.store.jobs()  # the store was written...
    engine.close()
    blobs = [Path(f).read_bytes() for f in _files_under(settings.home)]
    assert blobs
    for blob in blobs:  # ...and holds no key, in any file (db, WAL, shm)
        assert KEY.encode() not in blob
    assert "DEBUG" in {r.levelname for r in caplog.records}
    for text in seen + [caplog.text]:
        assert KEY not in text


def test_key_absent_from_cli_output_even_with_debug(keyed, tmp_path):
    sandbox, settings = keyed
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(10)) + "\nabc\n")
    env = child_env(sandbox, settings.home)
    ok = subprocess.run([sys.executable, "-m", "tgcheck", "check", str(listing), "--debug"],
                        env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("\n".join(numbers(5, start=500)) + "\n")
    bad = subprocess.run([sys.executable, "-m", "tgcheck", "check", str(fresh), "--debug"],
                         env=dict(env, TGCHECK_API_KEY=KEY + "-wrong"),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "refused the API key" in bad.stderr
    for text in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
        assert KEY not in text


def test_secret_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Settings(api_key=KEY))


def test_settings_with_different_keys_are_different(tmp_path):
    a = Settings(api_key="key-one", home=tmp_path)
    b = Settings(api_key="key-two", home=tmp_path)
    assert a != b and hash(a) != hash(b)
    assert a == Settings(api_key="key-one", home=tmp_path)
    assert tgcheck.get_engine(a) is not tgcheck.get_engine(b)


@pytest.mark.slow
def test_the_key_never_leaks_through_any_failure(tmp_path, caplog):
    """Across the hostile cases: faults, deadlines, a bad file, a dropped create, a
    refused key, a damaged store and its doctor; in logs at every level, exceptions,
    reprs, output and every file under TGCHECK_HOME."""
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    seen: list[str] = []
    faults = Faults(rate=0.3, kinds=("500", "429", "drop", "slow", "truncated", "nonjson"),
                    slow_seconds=0.5, retry_after=0.01, seed=3)
    with Sandbox(api_key=KEY, faults=faults, queue_seconds=0.01, export_seconds=0.01) as sb:
        settings = Settings(api_key=KEY, base_url=sb.url, home=home, poll_min=0.01,
                            poll_max=0.05, http_timeout=0.3, timeout=20, retry_base=0.01)
        engine = tgcheck.Engine(settings)
        seen += [repr(engine), repr(engine.provider), repr(settings), repr(sb)]
        for i in range(10):
            seen += [repr(a) for a in engine.check(numbers(3, start=i * 3))]

        def failing(exc_type, action):
            with pytest.raises(exc_type) as e:
                action()
            seen.extend([str(e.value), repr(e.value), repr(e.value.__cause__),
                         repr(e.value.__context__), "".join(e.traceback.format())
                         if hasattr(e.traceback, "format") else str(e.getrepr())])

        sb.faults = Faults()
        sb.result_override = b"<html>expired</html>"
        failing(tgcheck.ResultFileError, lambda: engine.check(numbers(3, start=100)))
        sb.result_override = None
        sb.fail_next("create", "drop_after")
        failing(tgcheck.UncertainCreate, lambda: engine.check(numbers(3, start=200)))
        sb.fail_next("create", "401")
        failing(tgcheck.KeyRefused, lambda: engine.check(numbers(3, start=300)))
        sb.faults = Faults(rate=1.0, kinds=("500",), create_kinds=())
        short = tgcheck.Engine(dataclasses.replace(settings, timeout=0.5))
        failing(tgcheck.DeadlineExceeded, lambda: short.check(numbers(3, start=400)))
        sb.faults = Faults()
        engine.close()
        short.close()

        store = settings.store_path
        let_go_of(store)
        store.write_bytes(os.urandom(store.stat().st_size))
        failing(tgcheck.StoreError, lambda: tgcheck.Engine(settings).check(numbers(1)))
        result = CliRunner().invoke(doctor_command, ["--store", str(store)])
        assert result.exit_code == 0
        seen += [result.output]

    files = [Path(root, name) for root, _, names in os.walk(home) for name in names]
    assert any(".damaged-" in f.name for f in files)
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f
    assert {"DEBUG", "WARNING"} <= {r.levelname for r in caplog.records}
    for text in [*seen, caplog.text]:
        assert KEY not in text


def test_a_login_in_the_base_url_is_absent_from_reprs(tmp_path):
    settings = Settings(api_key="k" * 32, base_url="http://ana:Base5ecret@127.0.0.1:1/api",
                        home=tmp_path)
    engine = tgcheck.Engine(settings)
    try:
        for shown in (repr(settings), repr(engine), repr(engine.provider)):
            assert "Base5ecret" not in shown and "ana" not in shown, shown
            assert "127.0.0.1:1" in shown
    finally:
        engine.close()


def test_an_sslpassword_in_the_store_url_is_masked_and_redacted():
    from tgcheck import redact
    from tgcheck.store import describe_url
    from tgcheck.store.open import check_store_url

    url = "postgresql://ana@db/team?sslmode=require&sslpassword=Ssl5ecretKey"
    assert "Ssl5ecretKey" not in describe_url(url)
    assert "sslpassword=***" in describe_url(url)
    check_store_url(url)
    assert "Ssl5ecretKey" not in redact.message("the key Ssl5ecretKey failed")


def test_a_login_in_the_base_url_never_shows_in_config_or_messages(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from tgcheck import redact
    from tgcheck.cli import cli

    monkeypatch.setenv("TGCHECK_BASE_URL", "https://bob:BaseUrl5ecret1@api.example.com")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "api.example.com" in result.output and "BaseUrl5ecret1" not in result.output
    # Registered like the key: a message that quotes the URL is masked too.
    assert "BaseUrl5ecret1" not in redact.message(
        "failed: https://bob:BaseUrl5ecret1@api.example.com/v1/tasks")


# -- a fragment of the key (issue 20 item 5) --------------------------------------------

FRAGMENT_KEY = "rtKEY-9f3c2a7b41d0e5c8a6f2"  # 26 characters
TRUNCATED = FRAGMENT_KEY[:14] + "..."  # what a vendor's "invalid key ..." shows


def _grams(text: str, size: int = 8) -> set[str]:
    return {text[i:i + size].lower() for i in range(len(text) - size + 1)}


def test_any_run_of_eight_characters_of_a_key_is_masked():
    from tgcheck import redact

    redact.register_secret(FRAGMENT_KEY)
    assert redact.mask(f"invalid key {TRUNCATED}") == "invalid key ***..."
    middle = FRAGMENT_KEY[9:21]
    assert redact.mask(f"a {middle.upper()} b") == "a *** b"  # any case, any position
    assert redact.mask(FRAGMENT_KEY[-8:]) == "***"
    assert redact.mask(FRAGMENT_KEY[:7]) == FRAGMENT_KEY[:7]  # seven characters stay
    assert redact.mask(f"x{FRAGMENT_KEY}y") == "x***y"
    assert redact.holds_secret(f"task-{FRAGMENT_KEY[3:11]}")


def test_fragments_of_long_and_short_secrets_are_masked():
    from tgcheck import redact

    long_key = "".join(f"{i:03d}Zq" for i in range(60))  # 300 characters
    redact.register_secret(long_key)
    redact.register_secret(FRAGMENT_KEY)
    redact.register_secret("Pw6chr")  # shorter than a fragment: masked whole only
    redact.register_secret(FRAGMENT_KEY)  # not left to an earlier test: each its own
    assert redact.mask(f"<{long_key[101:250].lower()}>") == "<***>"
    assert redact.mask(f"a {long_key} b {long_key[:8]}") == "a *** b ***"
    assert redact.mask("x PW6CHR y Pw6ch") == "x *** y Pw6ch"
    assert redact.mask(FRAGMENT_KEY[:8] + long_key[-8:]) == "******"


def _echo_fragment(h, code=200, **fields):
    from hostile import record, reply

    reply(h, code, record(**fields))


FRAGMENT_ECHOES = {
    "failed message": dict(status=lambda h: _echo_fragment(
        h, status="failed", message=f"invalid key {TRUNCATED}")),
    "status word and fields": dict(status=lambda h: _echo_fragment(
        h, status=f"Pending {FRAGMENT_KEY[4:16]}", created_at=FRAGMENT_KEY[10:],
        message=FRAGMENT_KEY[2:12].upper())),
    "400 body": dict(create=lambda h: _echo_fragment(
        h, 400, status="error", message=f"invalid key {TRUNCATED}")),
    "task id": dict(create=lambda h: _echo_fragment(h, task_id=f"t-{FRAGMENT_KEY[:9]}")),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(FRAGMENT_ECHOES))
def test_a_truncated_key_echoed_back_reaches_no_stream_or_file(case, tmp_path, monkeypatch,
                                                               caplog):
    from hostile import HostileServer
    from tgcheck.cli import cli

    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(numbers(3)) + "\n")
    with HostileServer(**FRAGMENT_ECHOES[case]) as server:
        for name, value in (("TGCHECK_API_KEY", FRAGMENT_KEY), ("TGCHECK_BASE_URL", server.url),
                            ("TGCHECK_HOME", str(home)), ("TGCHECK_POLL_MIN", "0.01"),
                            ("TGCHECK_POLL_MAX", "0.05"), ("TGCHECK_RETRY_BASE", "0.01"),
                            ("TGCHECK_TIMEOUT", "2")):
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        outputs = []
        for args in (["check", str(listing), "--progress", "json"],
                     ["check", str(listing), "--progress", "plain", "--resubmit", "--debug"],
                     ["jobs", "--all"], ["jobs", "--all", "--json"],
                     ["status", "t1"], ["status", "t1", "--json", "--debug"], ["resume"],
                     ["export", "1", "--format", "csv"]):
            result = runner.invoke(cli, args, prog_name="tgcheck")
            outputs += [result.stdout, result.stderr, repr(result.exception)]
        outputs.append(caplog.text)
    assert server.calls["create"] >= 1
    files = list(_files_under(home))
    assert files  # the store was written: the search below looked at something
    grams = _grams(FRAGMENT_KEY)
    for f in files:
        blob = Path(f).read_bytes().lower()
        assert not [g for g in grams if g.encode() in blob], (case, f)
    for text in outputs:
        assert not [g for g in grams if g in text.lower()], (case, text)


# -- an unencoded @ in the store URL's password (issue 20 item 5) ------------------------

STORE_COMMANDS = (["check", "{listing}"], ["jobs"], ["jobs", "--json"], ["resume"],
                  ["status", "t1"], ["export", "1"], ["cache", "stats"], ["config", "show"],
                  ["doctor"])


@pytest.mark.parametrize("url", [
    "postgresql://u:Ow@nerSECRET@127.0.0.1:1/db",
    "postgresql://u:Ow@ner@SECRET@127.0.0.1:1/db?sslmode=disable",
    "postgres://u@home:OwnerSECRET@127.0.0.1/db",
])
def test_a_store_url_with_an_unencoded_at_is_refused_before_connecting(url, tmp_path,
                                                                       monkeypatch):
    from tgcheck.cli import cli

    listing = tmp_path / "in.txt"
    listing.write_text("+41790000000\n")
    monkeypatch.setenv("TGCHECK_API_KEY", "k-store-url-1")
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TGCHECK_STORE_URL", url)
    password = url.split("://u", 1)[1].rpartition("@")[0].lstrip(":@")
    for args in STORE_COMMANDS:
        args = [a.format(listing=listing) for a in args]
        result = CliRunner().invoke(cli, args, prog_name="tgcheck")
        shown = result.output + repr(result.exception)
        assert result.exit_code == 2, (args, shown)
        assert "percent-encode" in shown and "PGPASSWORD" in shown, (args, shown)
        assert not [g for g in _grams(password, 4) if g.lower() in shown.lower()], (args, shown)
    assert not (tmp_path / "home").exists() or not list(_files_under(tmp_path / "home"))


def test_a_store_url_with_an_unencoded_at_is_refused_as_an_argument_too(tmp_path, monkeypatch):
    from tgcheck.cli import cli

    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TGCHECK_STORE_URL", raising=False)
    url = "postgresql://u:Ow@nerSECRET@127.0.0.1:1/db"
    for args in (["doctor", "--store", url], ["store", "migrate", "--to", url]):
        result = CliRunner().invoke(cli, args, prog_name="tgcheck")
        assert result.exit_code == 2, (args, result.output)
        assert "percent-encode" in result.output and "SECRET" not in result.output


def test_a_percent_encoded_at_in_the_store_url_is_accepted():
    from tgcheck.store.open import check_store_url

    check_store_url("postgresql://u:Ow%40nerSECRET@127.0.0.1:1/db")


def test_a_secrets_scope_forgets_what_was_registered_inside_it_only():
    from tgcheck import redact

    redact.register_secret("KEPT-qwertyuiop")
    with redact.secrets_scope():
        redact.register_secret("GONE-zxcvbnm123")
        assert redact.mask("a GONE-zxcvbnm123 b") == "a *** b"
    assert redact.mask("a GONE-zxcvbnm123 b") == "a GONE-zxcvbnm123 b"
    assert redact.mask("a KEPT-qwertyuiop b") == "a *** b"
