"""The ekycpro provider: everything vendor-specific, in one package.

- client.py: the HTTP protocol (create, status, download, balance) as a Provider;
- sync.py: its synchronous /v1/check, the engine's fast path for a few numbers;
- words.py: its status words as normalised states, its typical rate, its billing;
- its result files (xlsx, zip of CSV or xlsx, CSV) are read by the core's
  generic readers (tgcheck.readers), named in EkycproProvider.readers;
- sandbox.py: a local server speaking its protocol (`--sandbox`, the tests);
- here: the one hook that registers the provider with its settings (its default
  base URL) and its sandbox.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from ...plugin_settings import Setting
from .words import STATUS_WORDS, TYPICAL_RATE

NAME = "ekycpro"
DEFAULT_BASE_URL = "https://api.ekycpro.com"


class _Factory:
    """EkycproProvider, its module (and httpx with it, 0.05 s) imported when the
    first provider is built or asked about, not at every start: a check whose
    answers are all stored makes no HTTP call."""

    def __call__(self, settings, *args, **kwargs):
        from . import sync

        provider = _client().EkycproProvider(settings, *args, **kwargs)
        provider.sync = sync.factory(settings)  # None: no fast path
        return provider

    def __getattr__(self, name: str):
        return getattr(_client().EkycproProvider, name)


def _client():
    from . import client

    return client


def __getattr__(name: str):
    # EkycproProvider and parse_task, for `from tgcheck.default_plugins.ekycpro import ...`
    if name in ("EkycproProvider", "parse_task"):
        return getattr(_client(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _start_sandbox(**options):
    from .sandbox import Sandbox  # the server loads only when a sandbox is asked for

    return Sandbox(**options)


@hookimpl
def tgcheck_register_providers(register):
    # One call: the provider with its settings and its sandbox (its readers are
    # EkycproProvider.readers, the core's generic ones).
    register(NAME, _Factory(), sandbox=_start_sandbox, settings=[
        Setting("base_url", "TGCHECK_BASE_URL", DEFAULT_BASE_URL,
                help="the ekycpro API's base URL"),
        # No default here: unset, it is the vendor's /v1/check host, or none while
        # the base URL is a sandbox (ekycpro.sync.sync_url).
        Setting("sync_url", "TGCHECK_SYNC_URL", None,
                help="where the synchronous /v1/check is asked (default "
                     "https://api.ekycpro.ai)"),
    ])


__all__ = ["DEFAULT_BASE_URL", "STATUS_WORDS", "TYPICAL_RATE", "EkycproProvider", "parse_task"]
