"""The one redaction point: every string that comes from the provider, or may hold
the API key, passes here before it is stored, logged, shown, raised or written.

The provider is not trusted with its own replies: a server that echoes the key
back (in a message, a status word, an HTML page, a task id), or sends terminal
escapes, tabs or megabytes of text, must not get any of that into the journal,
stderr, `--progress json`, `tgcheck jobs`' TSV or a traceback.

Keys are registered here when a Secret is made (tgcheck.secret.Secret), so every face
(CLI, Python, Excel, DuckDB) redacts without passing the key around.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
# A "key" shorter than this is no real key, and masking it would wreck ordinary
# text (every "a" in a message); such keys are still never written on purpose.
MIN_SECRET = 6
# A vendor may echo part of the key ("invalid key rtKEY-9f3c2a7b..."): any run of
# this many characters of a key is masked too, wherever it stands in the text.
MIN_FRAGMENT = 8
# Provider text shown in one line: a message, a status word, an error body.
TEXT_LIMIT = 300

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern | None = None

# ANSI escape sequences (CSI ... final byte, OSC ... BEL/ST, and ESC with its
# intermediates and final byte: ESC c, ESC ( B) first, then what is left of the
# C0/C1 control characters, and the Unicode format characters that reorder or
# hide text on a terminal (bidi overrides, zero-width joiners).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])"
                   r"|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL_KEEP_NEWLINE = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def register_secret(value: str) -> None:
    """Mask this value (in any letter case), and any run of MIN_FRAGMENT or more of
    its characters, everywhere from now on."""
    if not isinstance(value, str) or len(value) < MIN_SECRET:
        return
    global _pattern
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first: a key that contains another is masked whole. Any case:
        # status words are lowercased before they are stored.
        alternatives = [_fragments(s) for s in sorted(_secrets, key=len, reverse=True)]
        _pattern = re.compile("|".join(alternatives), re.IGNORECASE)


def _fragments(secret: str) -> str:
    """A pattern for every run of MIN_FRAGMENT or more characters of secret (the whole
    of a shorter one), each match as long as the text allows.

    One alternative per starting character: its first MIN_FRAGMENT characters, then
    the rest of the secret as nested optional groups, so the match extends greedily
    to the longest run. Built once per secret: quadratic in its length (a key of 64
    characters gives some 4,000 pattern characters); re's literal-prefix check keeps
    the search over ordinary text fast."""
    if len(secret) <= MIN_FRAGMENT:
        return re.escape(secret)
    starts = []
    for start in range(len(secret) - MIN_FRAGMENT + 1):
        rest = secret[start + MIN_FRAGMENT:]
        tail = ""
        for char in reversed(rest):
            tail = f"(?:{re.escape(char)}{tail})?"
        starts.append(re.escape(secret[start:start + MIN_FRAGMENT]) + tail)
    return "|".join(starts)


def url_without_userinfo(url: str) -> str:
    """url fit for a repr: any `user:password@` dropped (a base URL may carry a
    login; a repr ends up in tracebacks and logs)."""
    from urllib.parse import urlsplit, urlunsplit  # only reprs need it

    try:
        parts = urlsplit(str(url))
    except ValueError:
        return MASK
    if "@" not in parts.netloc:
        return str(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask(text: str) -> str:
    """text with every registered key (any case), and every run of MIN_FRAGMENT or
    more of its characters, replaced by ***."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Terminal escapes removed; other control characters become spaces."""
    text = _ANSI.sub("", text)
    return (_CONTROL_KEEP_NEWLINE if keep_newlines else _CONTROL).sub(" ", text)


def clean(value: object, limit: int | None = TEXT_LIMIT) -> str:
    """Provider text made safe for one line of a terminal, a TSV cell, a log, a
    JSON field and the journal: escapes and control characters out (tabs and line
    breaks become spaces), runs of spaces collapsed, the key masked, the length
    bounded (after masking, so a cut can never leave half a key)."""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit * 8:
        # Bound the work on a huge body first; masking still runs on what is kept.
        text = text[:limit * 8]
    text = " ".join(strip_controls(text).split())
    text = mask(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


def clean_optional(value: object, limit: int | None = TEXT_LIMIT) -> str | None:
    return None if value is None else clean(value, limit)


def message(text: str) -> str:
    """An error message or a log line of our own that may quote provider text:
    the key masked and escapes removed, line breaks kept, no length bound (the
    parts quoted from the provider were bounded when they were read)."""
    return mask(strip_controls(text, keep_newlines=True))


def holds_secret(text: str) -> bool:
    pattern = _pattern
    return bool(pattern is not None and text and pattern.search(text))
