"""What the sandbox answers: a pure function of each number, and its result sheets.

Answers (simulated_answer) and the synchronous check's cache (cache_outcome)
depend only on the number, so a test or a re-run knows them in advance
(Sandbox.expected, Sandbox.cached).
"""

from __future__ import annotations

import hashlib
import io
import re

import xlsxwriter

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
LABEL = "SIMULATED by the tgcheck sandbox: not real Telegram data"


def _digest(number: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{number}".encode()).digest()[:8], "big")


def simulated_answer(number: str, task_type: str = "tg", omit_rate: float = 0.0) -> str | None:
    """The sandbox's answer for a number; None when its result file leaves it out."""
    if omit_rate and (_digest(number, "omit") % 10_000) < omit_rate * 10_000:
        return None
    h = _digest(number, task_type)
    if task_type == "tg_active":
        return ("1", "7", "30", "N/A")[h % 4]
    if task_type == "tg_avatar":
        # A profile picture's URL (a reserved .invalid host: never fetched), or
        # N/A for a number without an account or without a picture.
        return f"https://avatars.invalid/tg/{h:016x}.jpg" if h % 100 < 45 else "N/A"
    return "yes" if h % 100 < 55 else "no"


# The result column of each task type the sandbox answers (its headline, which
# the rich types' typed fields are read from too: docs/task-types.md).
COLUMNS = {"tg": "telegram", "ws": "whatsapp", "tg_active": "telegram_days",
           "tg_avatar": "avatar"}


# POST /v1/check, the synchronous check (api notes, section 8): a share of numbers
# is in the vendor's cache (answered and billed), some are undetermined (free),
# the rest are misses (free): each a pure function of the number.
HIT, MISS, UNDETERMINED = "hit", "miss", "undetermined"
CACHE_MISS = "identifier not found in cache"


def cache_outcome(number: str, hit_rate: float = 0.7, undetermined_rate: float = 0.1) -> str:
    """Whether the sandbox's /v1/check answers this number (hit), not (miss), or
    cannot tell (undetermined)."""
    share = (_digest(number, "cache") % 10_000) / 10_000
    if share < hit_rate:
        return HIT
    return UNDETERMINED if share < hit_rate + undetermined_rate else MISS


def xlsx_file(header, rows) -> bytes:
    """An xlsx result file of these rows (for tests: result_override)."""
    return _xlsx(header, rows)


def _xlsx(header, rows) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("Results")
    sheet.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        sheet.write_string(i, 0, row[0])
        sheet.write_string(i, 1, row[1])
    notes = book.add_worksheet("About")
    notes.write(0, 0, LABEL)
    book.close()
    return buf.getvalue()
