"""The ekycpro provider's HTTP clients: one TLS context for both."""

import ssl

from tgcheck import Settings
from tgcheck.default_plugins.ekycpro import EkycproProvider


def test_the_provider_loads_the_ca_bundle_once(monkeypatch):
    loads = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self, *args, **kwargs):
        loads.append(args or kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    provider = EkycproProvider(Settings(api_key="k", base_url="https://api.example.test"))
    try:
        assert len(loads) == 1  # the API's client and the downloads' share it
    finally:
        provider.close()
