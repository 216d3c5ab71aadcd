"""What every part of the engine shares: the engine it belongs to.

A part (planning, jobs, open jobs) reads the engine's settings, store,
provider (made on first use), create gate and recovery file through
it, so that the facade alone builds and owns them, and a part is handed one
object instead of five.
"""

from __future__ import annotations


class EnginePart:
    def __init__(self, engine):
        self.engine = engine

    @property
    def settings(self):
        return self.engine.settings

    @property
    def store(self):
        return self.engine.store

    @property
    def provider(self):
        return self.engine.provider

    @property
    def creates(self):
        return self.engine.creates

    @property
    def recovery(self):
        return self.engine.recovery
