"""Fixtures: the platform's sandbox on 127.0.0.1, and tgcheck aimed at it.

The plugin must be INSTALLED (`pip install -e .`): tgcheck finds it by its entry
point, as it will on a user's machine. Under pytest tgcheck loads no installed
plugin unless TGCHECK_LOAD_PLUGINS names it: this one is named here.
"""

from __future__ import annotations

import os

import pytest

os.environ["TGCHECK_LOAD_PLUGINS"] = "wscheck"

from tgcheck_wscheck import WsSandbox  # noqa: E402

from tgcheck import Settings  # noqa: E402  (after the variable: plugins load lazily)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("TGCHECK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TGCHECK_LOAD_PLUGINS", "wscheck")
    monkeypatch.setenv("TGCHECK_HOME", str(tmp_path / "home"))


@pytest.fixture
def platform():
    sandbox = WsSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def settings(platform, tmp_path):
    return Settings(provider="wscheck", api_key=platform.api_key, base_url=platform.url,
                    home=tmp_path / "home", poll_min=0.01, poll_max=0.05, timeout=30,
                    http_timeout=5, retry_base=0.01, simulated=True)  # a sandbox


def numbers(n: int, start: int = 0) -> list[str]:
    """n distinct valid Swiss mobile numbers."""
    return [f"+4179{i:07d}" for i in range(start, start + n)]
