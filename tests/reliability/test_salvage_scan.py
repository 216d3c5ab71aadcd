"""salvage_scan reads a damaged table by key ranges: forward to the first damaged
page, backward to the last, and probes in between, so the pages between two
damaged ones are read too (the doctor's answers: test_damaged_store.py)."""

from __future__ import annotations

import sqlite3

from tgcheck.salvage_scan import keys_in_gaps, scan_by_key


def test_pages_between_two_damaged_ones_are_read(tmp_path):
    path = tmp_path / "t.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (kind TEXT, number TEXT, value TEXT, "
               "PRIMARY KEY (kind, number)) WITHOUT ROWID")
    rows = [("tg", f"+4179{i:07d}", "yes") for i in range(30_000)]
    with db:
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    damaged = []
    for start in (pages // 3, 2 * pages // 3):  # two leaves, far apart
        page = next(p for p in range(start, pages) if data[p * page_size] == 0x0A)
        data[page * page_size:(page + 1) * page_size] = b"\xff" * page_size
        damaged.append(page)
    path.write_bytes(bytes(data))

    db = sqlite3.connect(path)
    scan = scan_by_key(db, "t", ("kind", "number"), ("kind", "number", "value"))
    db.close()
    read = {row[1] for row in scan.rows}
    lost = [row for row in rows if row[1] not in read]
    assert scan.damaged and len(scan.gaps) == 2, scan.gaps
    assert 0 < len(lost) < 400  # two pages' worth, no more
    # The rows between the two damaged pages (the middle third) were all read.
    middle = [row[1] for row in rows[len(rows) * 2 // 5:len(rows) * 3 // 5]]
    assert all(number in read for number in middle)
    # Every lost row lies in a gap: the doctor counts what was lost from them.
    assert keys_in_gaps(iter((kind, number) for kind, number, _ in lost), scan.gaps) \
        == len(lost)
