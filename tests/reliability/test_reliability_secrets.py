"""The key stays secret across the hostile cases: faults, deadlines, bad files, bad
replies, a damaged store and its doctor; in logs at every level, exceptions,
reprs, output and every file under TGCHECK_HOME."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import tgcheck
from conftest import let_go_of, numbers
from tgcheck import Settings
from tgcheck.doctor import doctor_command
from tgcheck.sandbox import Faults, Sandbox

KEY = "sk-live-9d2e7a41c0ffee5b"


def test_the_key_never_leaks_through_any_failure(tmp_path, caplog):
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
