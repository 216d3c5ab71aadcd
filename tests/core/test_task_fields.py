"""Issue 24: a task type declares typed fields; readers keep them, typed and cleaned."""

import datetime

import pytest

from tgcheck import plugins
from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field
from tgcheck.models import TaskType
from tgcheck.readers import CsvReader, XlsxReader, rows_to_answers

UTC = datetime.UTC

WS_ACTIVE = TaskType(
    "ws_active", "activedays", None,
    fields=(Field("activetime", DATETIME), Field("activedays", INTEGER),
            Field("business", YES_NO)),
)


def test_built_in_rich_task_types_declare_their_fields():
    active = plugins.get_task_type("tg_active")
    assert active.headline == "telegram_days"
    assert [(f.name, f.kind) for f in active.fields] == [("seen_within_days", INTEGER)]
    avatar = plugins.get_task_type("tg_avatar")
    assert [(f.name, f.kind) for f in avatar.fields] == [("avatar_url", URL)]
    assert plugins.get_task_type("tg").fields == ()


def test_reader_keeps_every_declared_column_typed_and_ignores_the_rest():
    rows = [[" Number ", "ACTIVETIME", "Active Days", " business ", "activated", "secret"],
            ["+41791234567", "2026-11-29T10:00:00Z", "7", "Yes", "yes", "x"],
            ["+41791234568", "", "N/A", "no", "no", "y"]]
    answers = rows_to_answers(rows, WS_ACTIVE)
    assert answers == {"+41791234567": "7", "+41791234568": "N/A"}
    assert answers.fields["+41791234567"] == {
        "activetime": datetime.datetime(2026, 11, 29, 10, tzinfo=UTC),
        "activedays": 7, "business": True}
    # N/A is the headline's answer, but no integer; an empty time is no time.
    assert answers.fields["+41791234568"] == {
        "activetime": None, "activedays": None, "business": False}


def test_a_declared_column_the_file_lacks_is_none_not_an_error():
    rows = [["number", "activedays"], ["+41791234567", "30"]]
    answers = rows_to_answers(rows, WS_ACTIVE)
    assert answers.fields["+41791234567"] == {
        "activetime": None, "activedays": 30, "business": None}


def test_a_number_answered_twice_differently_keeps_no_fields():
    rows = [["number", "activedays", "business"],
            ["+41791234567", "7", "yes"], ["+41791234567", "30", "no"],
            ["+41791234568", "1", "yes"], ["+41791234568", "", "no"]]
    answers = rows_to_answers(rows, WS_ACTIVE)
    assert answers["+41791234567"] is None
    assert "+41791234567" not in answers.fields
    # A repeated blank row neither undoes the answer nor its fields.
    assert answers["+41791234568"] == "1"
    assert answers.fields["+41791234568"]["business"] is True


def test_csv_and_xlsx_readers_give_the_same_typed_fields(tmp_path):
    import xlsxwriter

    rows = [["Number", "telegram_days"], ["+41791234567", "7"], ["+41791234568", "N/A"]]
    tt = plugins.get_task_type("tg_active")
    csv_answers = CsvReader().read("\n".join(",".join(r) for r in rows).encode(), tt)
    path = tmp_path / "r.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet.write(r, c, int(cell) if cell.isdigit() else cell)  # 7 as a number cell
    book.close()
    xlsx_answers = XlsxReader().read(path.read_bytes(), tt)
    assert csv_answers == xlsx_answers == {"+41791234567": "7", "+41791234568": "N/A"}
    assert csv_answers.fields == xlsx_answers.fields == {
        "+41791234567": {"seen_within_days": 7}, "+41791234568": {"seen_within_days": None}}


@pytest.mark.parametrize(("kind", "raw", "typed"), [
    (YES_NO, " YES ", True), (YES_NO, "No", False), (YES_NO, 1.0, True), (YES_NO, "maybe", None),
    (INTEGER, "1,000", 1000), (INTEGER, 7.0, 7), (INTEGER, 7.5, None), (INTEGER, "N/A", None),
    (TEXT, "  hello  ", "hello"), (TEXT, "", None), (TEXT, "x" * 5000, "x" * 2048),
    (URL, "https://cdn.example/a.jpg", "https://cdn.example/a.jpg"),
    (URL, "javascript:alert(1)", None), (URL, "N/A", None),
    (DATETIME, "2026-11-29 10:00", datetime.datetime(2026, 11, 29, 10, tzinfo=UTC)),
    (DATETIME, "2026-11-29T12:00:00+02:00", datetime.datetime(2026, 11, 29, 10, tzinfo=UTC)),
    (DATETIME, 1764410400, datetime.datetime(2025, 11, 29, 10, tzinfo=UTC)),
    (DATETIME, 1764410400000, datetime.datetime(2025, 11, 29, 10, tzinfo=UTC)),
    (DATETIME, "yesterday", None),
])
def test_each_kind_cleans_its_cells(kind, raw, typed):
    assert Field("f", kind).clean(raw) == typed


def test_a_field_of_an_unknown_kind_or_a_name_no_face_can_use_is_refused():
    with pytest.raises(ValueError, match="kind"):
        Field("f", "float")
    with pytest.raises(ValueError, match="identifier"):
        Field("last seen", INTEGER)
    with pytest.raises(ValueError, match="twice"):
        TaskType("t", "c", fields=(Field("a"), Field("a")))


def test_the_example_plugins_ws_active_keeps_activetime_activedays_and_business(monkeypatch):
    import csv
    import io

    from paths import EXAMPLES

    monkeypatch.syspath_prepend(str(EXAMPLES / "tgcheck-wscheck" / "src"))
    from tgcheck_wscheck import TASK_TYPES
    from tgcheck_wscheck.sandbox import COLUMNS, simulated_row

    ws_active = next(t for t in TASK_TYPES if t.name == "ws_active")
    numbers = [f"+4179000{i:04d}" for i in range(50)]
    text = io.StringIO()
    writer = csv.DictWriter(text, ("number", *COLUMNS["ws_active"]))
    writer.writeheader()
    writer.writerows(simulated_row(n, "ws_active") for n in numbers)
    answers = CsvReader().read(text.getvalue().encode(), ws_active)
    for number in numbers:
        row, fields = simulated_row(number, "ws_active"), answers.fields[number]
        assert set(fields) == {"activetime", "activedays", "business"}
        assert fields["business"] is (row["business"] == "yes")
        if row["activated"] == "yes":
            assert fields["activedays"] == int(row["activedays"])
            assert fields["activetime"] == datetime.datetime(2026, 11, 29, 10, tzinfo=UTC)
        else:
            assert fields["activedays"] is None and fields["activetime"] is None


def test_a_text_field_passes_the_redaction_point_and_a_url_holding_the_key_is_none():
    from tgcheck import redact

    key = "fields-test-secret-key-0123456789"
    redact.register_secret(key)
    assert key not in Field("note", TEXT).clean(f"hello {key}\x1b[31m there")
    assert Field("avatar", URL).clean(f"https://cdn.example/{key}.jpg") is None
    assert Field("avatar", URL).clean("https://cdn.example/a\nb.jpg") is None
