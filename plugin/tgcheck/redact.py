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

import contextlib
import re
import threading
from collections.abc import Iterator

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


class _Index:
    """Every registered secret's runs of MIN_FRAGMENT characters (a shorter secret
    whole), case-folded: one regex over them all (a trie, so its cost grows little
    with the secrets' length or number), and where each run sits in which secret,
    to extend a match to the longest run the text holds."""

    def __init__(self, secrets: set[str]):
        self.where: dict[str, list[tuple[str, int]]] = {}
        for secret in secrets:
            folded = secret.casefold()
            size = min(MIN_FRAGMENT, len(folded))
            for at in range(len(folded) - size + 1):
                self.where.setdefault(folded[at:at + size], []).append((folded, at))
        self.pattern = re.compile(_trie(self.where))


def _trie(words) -> str:
    """A regex matching any of words, as a prefix tree: a literal per branch, so the
    engine rejects a position at its first character (an alternation of every word
    tries each in turn: 60 times slower for a 500-character key)."""
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        branches = [re.escape(c) + emit(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A word that ends here, and longer ones go on: the longer tried first.
        return f"(?:{body})?" if "" in node else body

    return emit(root)


_index: _Index | None = None


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
    global _index
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Any case: status words are lowercased before they are stored.
        _index = _Index(_secrets)


@contextlib.contextmanager
def secrets_scope() -> Iterator[None]:
    """Secrets registered inside are forgotten when it ends, those from before kept.

    The registry lives as long as the process, as a key does; a test suite gives
    each test its own scope, so that one test's password does not mask words in
    another's messages."""
    global _index
    with _lock:
        saved = (set(_secrets), _index)
    try:
        yield
    finally:
        with _lock:
            _secrets.clear()
            _secrets.update(saved[0])
            _index = saved[1]


def _folded(text: str) -> str:
    """text case-folded, character for character (positions stay where they were):
    a character whose folding is longer (ß -> ss) is kept as it is."""
    folded = text.casefold()
    if len(folded) == len(text):
        return folded
    return "".join(c if len(c.casefold()) != 1 else c.casefold() for c in text)


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


def describe_url(url: str) -> str:
    """A store's URL fit to show (store.open, store.postgres): its password (and
    any password= or sslpassword= parameter) masked.

    postgresql://ana:secret@db.example.com/team -> postgresql://ana:***@db.example.com/team
    """
    from urllib.parse import urlsplit, urlunsplit  # only shown store URLs need it

    try:
        parts = urlsplit(url)
    except ValueError:  # unreadable (e.g. "[::1" unclosed): show none of it but the scheme
        return f"{url.partition('://')[0]}://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = re.sub(r"(?i)(^|&)((?:ssl)?password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask(text: str) -> str:
    """text with every registered key (any case), and every run of MIN_FRAGMENT or
    more of its characters, replaced by ***."""
    index = _index
    if index is None or not text:
        return text
    folded = _folded(text)
    found = index.pattern.search(folded)
    if found is None:
        return text
    pieces, done = [], 0
    while found is not None:
        start, end = found.span()
        # The longest run of a secret that starts here: the match, extended.
        for secret, at in index.where.get(found.group(), ()):
            length = found.end() - start
            while (start + length < len(folded) and at + length < len(secret)
                   and folded[start + length] == secret[at + length]):
                length += 1
            end = max(end, start + length)
        pieces += [text[done:start], MASK]
        done = end
        found = index.pattern.search(folded, end)
    pieces.append(text[done:])
    return "".join(pieces)


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
    index = _index
    return bool(index is not None and text and index.pattern.search(_folded(text)))
