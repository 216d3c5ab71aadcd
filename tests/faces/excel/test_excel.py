"""TG_CHECK as classic xlwings calls it: 2-D lists of floats, None and text, from threads."""

from __future__ import annotations

import threading

import pytest

import tgcheck_udfs
from conftest import numbers
from paths import EXAMPLES
from tgcheck_udfs.checking import safe_text


def expected_cell(sandbox, number: str) -> str:
    answer = sandbox.expected(number)
    return "unknown" if answer is None else answer


def as_excel_float(number: str) -> float:
    """How Excel hands over a number typed without its "+": 41798284651.0"""
    return float(number.lstrip("+"))


def test_a_block_as_excel_passes_it(sandbox_env):
    sb = sandbox_env
    a, b, c, d = numbers(4)
    block = [
        [as_excel_float(a), a, None],
        [int(b.lstrip("+")), "not a number", "+41 79 000 00 03".replace("03", c[-2:])],
        [None, f"00{d[1:]}", 12.5],
    ]
    result = tgcheck_udfs.tg_check(block)
    assert result == [
        [expected_cell(sb, a), expected_cell(sb, a), ""],
        [expected_cell(sb, b), "invalid", expected_cell(sb, c)],
        ["", expected_cell(sb, d), "invalid"],
    ]
    assert sb.billed["create"] == 1


def test_single_cell_row_and_column_keep_their_shape(sandbox_env):
    sb = sandbox_env
    nums = numbers(3, start=100)
    one = tgcheck_udfs.tg_check([[as_excel_float(nums[0])]])
    assert one == [[expected_cell(sb, nums[0])]]
    row = tgcheck_udfs.tg_check([[as_excel_float(n) for n in nums]])
    assert row == [[expected_cell(sb, n) for n in nums]]
    column = tgcheck_udfs.tg_check([[n] for n in nums])
    assert column == [[expected_cell(sb, n)] for n in nums]
    # Classic xlwings without ndim=2 would pass a lone cell as a scalar: same answer.
    assert tgcheck_udfs.tg_check(as_excel_float(nums[0])) == one


def test_region_reads_national_numbers(sandbox_env):
    result = tgcheck_udfs.tg_check([["0532 123 45 67"], [5321234567.0]], "tr")
    assert result == [[expected_cell(sandbox_env, "+905321234567")]] * 2
    assert tgcheck_udfs.tg_check([["0532 123 45 67"]]) == [["invalid"]]


def test_unknown_region_is_an_error_cell_not_an_exception(sandbox_env):
    result = tgcheck_udfs.tg_check([[41791234567.0]], "XX")
    assert result[0][0].startswith("error: unknown region 'XX'")
    assert sandbox_env.calls == {}


def test_eight_threads_recalculating_one_range_create_one_task(sandbox_env):
    grid = [[as_excel_float(n)] for n in numbers(500, start=1000)]
    results: list = [None] * 8
    start = threading.Barrier(8)

    def recalculate(i: int) -> None:
        start.wait()  # as Excel's threading mode does: all cells at once
        results[i] = tgcheck_udfs.tg_check(grid)

    threads = [threading.Thread(target=recalculate, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sandbox_env.billed["create"] == 1
    assert all(r == results[0] for r in results)
    assert results[0][0][0] in ("yes", "no", "unknown")
    # Joined by number: each cell holds its own number's answer.
    for (cell,), [value] in zip(grid, results[0], strict=True):
        assert value == (sandbox_env.expected(f"+{int(cell)}") or "unknown")


def test_a_later_recalculation_makes_no_api_call(sandbox_env):
    grid = [[as_excel_float(n)] for n in numbers(300, start=5000)] + [[None], ["x"]]
    first = tgcheck_udfs.tg_check(grid)
    calls = dict(sandbox_env.calls)
    assert calls["create"] == 1
    assert tgcheck_udfs.tg_check(grid) == first
    assert dict(sandbox_env.calls) == calls


def test_no_key_says_how_to_get_one(sandbox, monkeypatch):
    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    result = tgcheck_udfs.tg_check([[41791234567.0]])
    assert result[0][0].startswith("error: no API key")
    assert "tgcheck sandbox" in result[0][0]


def test_a_key_stored_with_set_key_works_at_the_next_recalculation(sandbox, monkeypatch):
    from tgcheck import config_file

    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TGCHECK_POLL_MIN", "0.02")
    number = numbers(1, start=700)[0]
    first = tgcheck_udfs.tg_check([[number]])
    assert first[0][0].startswith("error: no API key")
    assert "tgcheck config set-key" in first[0][0]
    config_file.set_key(sandbox.api_key)  # what `tgcheck config set-key` writes
    again = tgcheck_udfs.tg_check([[number]])  # same process: no Excel restart
    assert again == [[expected_cell(sandbox, number)]]
    assert sandbox.api_key not in first[0][0]


def test_a_refused_key_never_shows_in_the_cell(sandbox, monkeypatch):
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("TGCHECK_API_KEY", secret)
    monkeypatch.setenv("TGCHECK_BASE_URL", sandbox.url)
    monkeypatch.setenv("TGCHECK_POLL_MIN", "0.02")
    result = tgcheck_udfs.tg_check([[41791234567.0]])
    assert len(result) == 1 and result[0][0].startswith("error: ")
    assert secret not in result[0][0]


def test_safe_text_cuts_the_key_out_of_any_message(settings):
    key = settings.api_key.reveal()
    text = safe_text(RuntimeError(f"header X-API-Key: {key} refused"), settings)
    assert key not in text and "***" in text


@pytest.mark.parametrize("values", [[], [[None, ""], [" ", None]]])
def test_nothing_to_check_makes_no_call(sandbox_env, values):
    result = tgcheck_udfs.tg_check(values)
    assert result == [["" for _ in row] for row in values]
    assert sandbox_env.calls == {}


def test_the_demo_workbook_is_wired_and_its_notes_hold(sandbox_env):
    import openpyxl

    path = EXAMPLES / "tgcheck_demo.xlsm"
    book = openpyxl.load_workbook(path, keep_vba=True)
    assert book.vba_archive is not None  # xlwings' VBA project, for RunPython
    conf = {r[0].value: r[1].value for r in book["xlwings.conf"].iter_rows(max_col=2)}
    assert conf["UDF Modules"] == "tgcheck_udfs"
    sheet = book["Numbers"]
    assert sheet["B2"].value == "=TG_CHECK(A2:A11)"
    cells = [[sheet.cell(row=r, column=1).value] for r in range(2, 12)]
    shown = [row[0] for row in tgcheck_udfs.tg_check(cells)]
    notes = [sheet.cell(row=r, column=3).value for r in range(2, 12)]
    for text, note in zip(shown, notes, strict=True):
        if "invalid" in note:
            assert text == "invalid", note
        elif "blank" in note:
            assert text == "", note
        else:
            assert text in ("yes", "no", "unknown"), note
    assert sandbox_env.billed["create"] == 1


def test_pending_cells_are_final_only_for_what_the_engine_never_sends():
    from tgcheck_udfs.grid import PENDING, pending_cells

    flat = ["+41798284651", " +41 79 828 46 51 ", 41798284651.0, "0041798284651",
            "079 828 46 51", "abc", 12.5, "", None, float("nan")]
    assert pending_cells(flat, None) == [PENDING, PENDING, PENDING, PENDING,
                                         "invalid", "invalid", "invalid", "", "", ""]
    # With a region, national numbers are sent too.
    assert pending_cells(["079 828 46 51"], "CH") == [PENDING]


def test_progress_text_sums_the_tasks_of_a_split_check():
    from tgcheck import JobEvent
    from tgcheck_udfs.progress import Progress

    def task(key, kind, **fields):
        return JobEvent(kind=kind, job_key=key * 64, task_type="tg", numbers=100_000, **fields)

    progress = Progress()
    assert progress.text() == "pending"
    progress.update(task("a", "progress", total=100_000, processed=60_000))
    progress.update(task("b", "submitted"))
    assert progress.text() == "pending 60,000/200,000"
    progress.update(task("a", "done", total=100_000, processed=100_001))
    assert progress.text() == "pending 100,000/200,000"
    progress.update(task("b", "failed", message="task tb failed at the provider"))
    assert progress.text() == "failed: task tb failed at the provider"


def test_a_region_per_cell_and_the_reasons_beside(sandbox_env):
    sb = sandbox_env
    block = [["07911 123456", "0612345678"], ["0612345678", "+41798284651"]]
    regions = [["UK", "France"], ["Narnia", None]]
    assert tgcheck_udfs.tg_check(block, regions) == [
        [expected_cell(sb, "+447911123456"), expected_cell(sb, "+33612345678")],
        ["invalid", expected_cell(sb, "+41798284651")]]
    spilled = tgcheck_udfs.tg_check(block, regions, True)
    assert [row[:2] for row in spilled] == tgcheck_udfs.tg_check(block, regions)
    assert spilled[1][2].startswith("unknown_region: unknown region 'Narnia'")
    assert spilled[0][2:] == [
        "" if sb.expected("+447911123456") else "left_out: left out of the result file",
        "" if sb.expected("+33612345678") else "left_out: left out of the result file"]


def test_one_region_cell_any_form_and_a_wrong_shape(sandbox_env):
    assert tgcheck_udfs.tg_check([["07911 123456"]], [["United Kingdom"]]) == [
        [expected_cell(sandbox_env, "+447911123456")]]
    assert tgcheck_udfs.tg_check([["07911 123456"]], 44.0) == [
        [expected_cell(sandbox_env, "+447911123456")]]
    bad = tgcheck_udfs.tg_check([["07911 123456"]], "Untied Kingdom")
    assert bad[0][0].startswith("error: unknown region") and "did you mean GB" in bad[0][0]
    shape = tgcheck_udfs.tg_check([["1"], ["2"], ["3"]], [["GB"], ["FR"]])
    assert shape[0][0].startswith("error: regions: a 2x1 range for 3x1 numbers")
