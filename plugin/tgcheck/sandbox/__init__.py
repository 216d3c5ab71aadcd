"""Sandboxes: local HTTP servers speaking a provider's protocol, with simulated answers.

Each provider brings its own (`tgcheck_register_sandboxes`); `embedded` starts
the selected provider's for one run (`--sandbox`). The names below are the
built-in ekycpro sandbox's, kept here for the tests and users that import them
(`from tgcheck.sandbox import Sandbox`); they load on first use only.
"""

_EXPORTS = ("DEMO_KEY", "Faults", "Sandbox", "simulated_answer")


def __getattr__(name: str):
    if name in _EXPORTS:
        from ..default_plugins.ekycpro import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
