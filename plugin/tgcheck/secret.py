"""Secret: the API key (or a password) as a string that never shows itself.

Its own module so that everything that holds a key (settings, the config file,
a provider's own settings) can import it without importing each other.
"""

from __future__ import annotations

import hashlib
import hmac

from . import redact

__all__ = ["Secret"]


class Secret(str):
    """A string that never shows itself in reprs, f-strings or logs.

    The key must still reach the HTTP header, so `reveal()` gives it back on purpose.
    """

    def __new__(cls, value: str):
        obj = super().__new__(cls, "********")
        obj._value = value
        # From now on the key is masked in everything tgcheck stores, shows or raises.
        redact.register_secret(value)
        return obj

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    # Two keys are equal when their real values are: engines are cached per
    # Settings, and a changed key must not reuse the old engine.
    def __eq__(self, other) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value, other._value)
        return NotImplemented

    def __ne__(self, other) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __reduce__(self):
        # Pickling would be one more way to write the key somewhere: refuse it.
        raise TypeError("a Secret cannot be pickled")
