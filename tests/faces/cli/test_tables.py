"""`tgcheck check` with tables: .csv/.xlsx/stdin in, .csv/.xlsx/.json/.parquet out;
outputs Excel opens as the user saved the input (CSV in the input's delimiter and
encoding or UTF-8 with a BOM on request, xlsx with the input's sheet name and other
sheets), every output file with the mode the umask gives."""

import codecs
import csv
import io
import json
import os
import stat
import subprocess
import sys

import duckdb
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from conftest import numbers
from paths import ROOT
from processes import cli_env, cli_script, rows, run


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


def write_xlsx(path, sheets: dict[str, list[list]]):
    book = xlsxwriter.Workbook(path)
    for name, data in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(data):
            sheet.write_row(r, 0, row)
    book.close()


def read_xlsx(path, sheet="answers"):
    # An xlsx input's sheet keeps its name in the output (issue 14); others: answers.
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


@pytest.fixture
def german_csv(tmp_path):
    src = tmp_path / "kunden.csv"
    src.write_bytes(f"Name;Ort;Telefon\r\nJürg;Zürich;{numbers(1)[0]}\r\n"
                    f"Zoë;Genève;{numbers(2)[1]}\r\n".encode("cp1252"))
    return src


def test_csv_passes_every_column_through_and_appends_answers(env, sandbox, tmp_path):
    src = tmp_path / "customers.csv"
    phones = numbers(4)
    src.write_text("id,Name,Mobile Phone\n"
                   f'1,"Meier, Anna",{phones[0]}\n2,Keller,not a number\n3,Rossi,\n'
                   f"4,Frei,{phones[1]}\n5,Frei again,{phones[1]}\n", encoding="utf-8-sig")
    result = run("check", str(src), env=env)
    assert result.returncode == 0, result.stderr
    assert "column 'Mobile Phone'" in result.stderr  # says which column it took
    got = rows(result.stdout)
    assert list(got[0]) == ["id", "Name", "Mobile Phone", "number", "telegram", "status",
                            "reason"]
    assert [r["id"] for r in got] == ["1", "2", "3", "4", "5"]
    assert got[0]["Name"] == "Meier, Anna"
    assert [r["status"] for r in got[1:3]] == ["invalid", "blank"]
    for r in (got[0], got[3], got[4]):
        assert r["number"] in phones and r["telegram"] == sandbox.expected(r["number"])
    assert sandbox.creates == 1


def test_answer_columns_never_collide_with_input_columns(env, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(f"number,status,telegram\n{numbers(1)[0]},vip,?\n")
    result = run("check", str(src), "--column", "NUMBER", env=env)  # any case
    assert result.returncode == 0, result.stderr
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert header == ["number", "status", "telegram",
                      "number_tgcheck", "telegram_tgcheck", "status_tgcheck", "reason"]
    assert rows(result.stdout)[0]["status"] == "vip"


def test_excel_csv_in_cp1252_with_semicolons(env, sandbox, german_csv, tmp_path):
    out = tmp_path / "out.csv"
    result = run("check", str(german_csv), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "cp1252" in result.stderr
    # Written back as it came (issue 14): cp1252, `;`-separated, for the same Excel.
    got = list(csv.DictReader(io.StringIO(out.read_text(encoding="cp1252")), delimiter=";"))
    assert [(r["Name"], r["Ort"]) for r in got] == [("Jürg", "Zürich"), ("Zoë", "Genève")]
    assert all(r["status"] == "ok" for r in got)


def test_headerless_single_column_csv_keeps_its_first_number(env, tmp_path):
    src = tmp_path / "plain.csv"
    src.write_text("\n".join(numbers(3)) + "\n")
    result = run("check", str(src), "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "inputs" in result.stdout and "3" in result.stdout.splitlines()[0]
    assert "no header row" in result.stderr


def test_ragged_rows_short_are_padded_long_are_refused(env, tmp_path):
    short = tmp_path / "short.csv"
    phone = numbers(1)[0]
    short.write_text(f"phone,name,city\n{phone},Anna\n{phone}\n{phone},Beat,Bern,,\n")
    result = run("check", str(short), env=env)
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert [(r["name"], r["city"]) for r in got] == [("Anna", ""), ("", ""), ("Beat", "Bern")]
    long = tmp_path / "long.csv"
    long.write_text(f"phone,name\n{phone},Anna\n{phone},Meier, Anna\n")
    result = run("check", str(long), env=env)
    assert result.returncode == 2
    assert "line 3" in result.stderr and "3 fields" in result.stderr
    assert "Traceback" not in result.stderr


def test_xlsx_sheet_and_column(env, sandbox, tmp_path):
    src = tmp_path / "book.xlsx"
    phones = numbers(3)
    write_xlsx(src, {
        "Other": [["nothing here"]],
        "Leads": [["id", "tel", "mobile"], [1, "x", phones[0]], [2, "y", 41790000001.0],
                  [3, "z", None]],
    })
    out = tmp_path / "out.xlsx"
    result = run("check", str(src), "--sheet", "Leads", "--column", "mobile", "-o", str(out),
                 env=env)
    assert result.returncode == 0, result.stderr
    got = read_xlsx(out, "Leads")
    assert CalamineWorkbook.from_path(str(out)).sheet_names == ["Other", "Leads"]
    assert got[0] == ["id", "tel", "mobile", "number", "telegram", "status", "reason"]
    assert [row[0] for row in got[1:]] == [1, 2, 3]  # numbers stay numbers
    assert [row[3] for row in got[1:]] == [phones[0], phones[1], ""]
    assert got[1][4] == sandbox.expected(phones[0]) and got[3][5] == "blank"


@pytest.mark.parametrize("args, message", [
    (["--sheet", "Nope"], "no sheet named 'Nope'; sheets: Leads"),
    (["--column", "fax"], "no column 'fax'; columns: id, phone, mobile"),
    ([], "several columns could hold the numbers (phone, mobile)"),
])
def test_xlsx_bad_sheet_or_column_exits_2(env, tmp_path, args, message):
    src = tmp_path / "book.xlsx"
    write_xlsx(src, {"Leads": [["id", "phone", "mobile"], [1, "+41790000001", ""]]})
    result = run("check", str(src), *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "is empty"),
    ("blank.txt", b"\n \n", "is empty"),
    ("bin.csv", b"\x00\x01\x02garbage\xff", "binary"),
    ("fake.xlsx", b"not a spreadsheet at all", "not a readable spreadsheet"),
    ("cols.csv", b"id,name\n1,Anna\n", "no column is named like a phone number"),
])
def test_more_bad_inputs_exit_2(env, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = run("check", str(path), env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_non_utf8_text_file(env, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(f"{numbers(1)[0]}\nnuméro inconnu\n".encode("latin-1"))
    result = run("check", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert [r["input"] for r in rows(result.stdout)] == [numbers(1)[0], "numéro inconnu"]


def test_stdin_as_csv(env, tmp_path):
    text = f"name,phone\nAnna,{numbers(1)[0]}\n"
    result = run("check", "-", "--input-format", "csv", env=env, stdin=text)
    assert result.returncode == 0, result.stderr
    assert rows(result.stdout)[0]["name"] == "Anna"


def test_json_lines_and_parquet_outputs(env, tmp_path):
    src = tmp_path / "in.txt"
    values = [*numbers(3), "", "junk"]
    src.write_text("\n".join(values) + "\n")
    out_json, out_parquet = tmp_path / "a.json", tmp_path / "a.parquet"
    assert run("check", str(src), "-o", str(out_json), "-q", env=env).returncode == 0
    records = [json.loads(line) for line in out_json.read_text().splitlines()]
    assert [r["input"] or "" for r in records] == values  # blank cells are null
    assert records[3] == {"input": None, "number": None, "telegram": None, "status": "blank",
                          "reason": "blank: empty cell"}
    result = run("check", str(src), "-o", str(out_parquet), "-q", env=env)
    assert result.returncode == 0, result.stderr
    got = duckdb.sql(f"SELECT input, number, status FROM '{out_parquet}'").fetchall()
    assert [g[0] or "" for g in got] == values and got[0][1] == numbers(1)[0]


def test_parquet_without_duckdb_says_how_to_install(env, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "duckdb.py").write_text("raise ImportError('blocked for this test')\n")
    src = tmp_path / "in.txt"
    src.write_text(numbers(1)[0] + "\n")
    result = run("check", str(src), "-o", str(tmp_path / "a.parquet"),
                 env=dict(env, PYTHONPATH=str(blocker)))
    assert result.returncode == 2
    assert 'python -m pip install -e ".[duckdb]"' in result.stderr
    assert not (tmp_path / "a.parquet").exists()


def test_unknown_output_extension_exits_2_before_any_call(env, sandbox, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(numbers(1)[0] + "\n")
    result = run("check", str(src), "-o", str(tmp_path / "out.docx"), env=env)
    assert result.returncode == 2 and "unknown extension" in result.stderr
    assert sandbox.creates == 0


def test_xlsx_sheet_is_read_whole_on_every_pass(env, sandbox, tmp_path):
    """The sheet is parsed once per open table and each pass (first row, numbers,
    the stdout comparison, the output) starts again from its first row."""
    from tgcheck.tables import open_input

    src = tmp_path / "book.xlsx"
    phones = numbers(4, start=300)
    write_xlsx(src, {"Leads": [["id", "phone"], *([i, p] for i, p in enumerate(phones))]})
    table = open_input(str(src))
    try:
        assert table.columns == ["id", "phone"] and table.number_index == 1
        first, half = table.rows(), table.rows()
        next(half), next(half)  # a pass left halfway does not move the next one
        assert list(table.numbers()) == phones
        assert list(first) == [[i, p] for i, p in enumerate(phones)]
        assert list(table.numbers()) == phones
        assert list(half) == [[i, p] for i, p in enumerate(phones)][2:]
    finally:
        table.close()
    result = run("check", str(src), env=env)  # to stdout: every pass, in the real CLI
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert [r["phone"] for r in got] == phones and [r["number"] for r in got] == phones
    assert all(r["telegram"] == sandbox.expected(r["number"]) for r in got)
    assert sandbox.creates == 1


# -- outputs Excel opens as the user saved the input ----------------------------

def test_csv_output_follows_the_inputs_delimiter_and_encoding(env, german_csv, tmp_path):
    out = tmp_path / "out.csv"
    result = run("check", str(german_csv), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert not data.startswith(codecs.BOM_UTF8)
    text = data.decode("cp1252")
    assert text.splitlines()[0] == "Name;Ort;Telefon;number;telegram;status;reason"
    got = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [(r["Name"], r["Ort"]) for r in got] == [("Jürg", "Zürich"), ("Zoë", "Genève")]
    # To stdout: the delimiter follows too (the terminal's encoding stays).
    shown = run("check", str(german_csv), env=env)
    assert shown.stdout.splitlines()[0] == "Name;Ort;Telefon;number;telegram;status;reason"


def test_bom_writes_utf8_with_a_byte_order_mark(env, german_csv, tmp_path):
    out = tmp_path / "out.csv"
    result = run("check", str(german_csv), "-o", str(out), "--bom", env=env)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    assert text.startswith("Name;Ort;Telefon;") and "Zürich" in text


def test_utf16_tab_text_from_excel_comes_back_the_same_way(env, tmp_path):
    src = tmp_path / "unicode.csv"
    src.write_bytes(f"Name\tPhone\r\nÅsa\t{numbers(1)[0]}\r\n".encode("utf-16"))
    out = tmp_path / "out.csv"
    result = run("check", str(src), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE)
    assert data.decode("utf-16").splitlines()[1].startswith("Åsa\t+41")


def test_xlsx_output_keeps_the_sheet_name_and_the_other_sheets(env, tmp_path):
    src = tmp_path / "book.xlsx"
    write_xlsx(src, {"Intro": [["read me", 42]], "Leads": [["Name", "Mobile"],
                                                          ["Ann", numbers(1)[0]]],
                     "Notes": [["kept"]]})
    out = tmp_path / "out.xlsx"
    # --sheet ignores case, as --column does.
    result = run("check", str(src), "--sheet", "leads", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    wb = CalamineWorkbook.from_path(str(out))
    assert wb.sheet_names == ["Intro", "Leads", "Notes"]
    assert wb.get_sheet_by_name("Intro").to_python() == [["read me", 42.0]]
    assert wb.get_sheet_by_name("Notes").to_python() == [["kept"]]
    answers = wb.get_sheet_by_name("Leads").to_python()
    assert answers[0] == ["Name", "Mobile", "number", "telegram", "status", "reason"]
    assert answers[1][4] == "ok"


def test_an_unknown_sheet_is_still_refused_with_the_list(env, tmp_path):
    src = tmp_path / "book.xlsx"
    write_xlsx(src, {"Leads": [["Mobile"]]})
    result = run("check", str(src), "--sheet", "lead", "--dry-run", env=env)
    assert result.returncode == 2 and "sheets: Leads" in result.stderr


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json", ".parquet"])
def test_output_files_honour_the_umask(env, tmp_path, umask, mode, suffix):
    src = tmp_path / "in.txt"
    src.write_text(numbers(1)[0] + "\n")
    out = tmp_path / f"out{suffix}"
    result = subprocess.run(
        [sys.executable, "-m", "tgcheck", "check", str(src), "-o", str(out), "-q"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode


# -- formulas in pass-through cells (issue 20 item 8) ----------------------------------

FORMULA_CELLS = ['=HYPERLINK("http://evil.example","click")', "@SUM(A1:A9)",
                 "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1"]


@pytest.fixture
def formula_csv(tmp_path):
    src = tmp_path / "crm.csv"
    phones = numbers(len(FORMULA_CELLS))
    lines = ["note,=cmd|x,phone,amount"]
    for cell, phone in zip(FORMULA_CELLS, phones, strict=True):
        quoted = '"' + cell.replace('"', '""') + '"'
        # The phone written the way people do: +41 79 ... with spaces.
        spaced = f"{phone[:3]} {phone[3:5]} {phone[5:]}"
        lines.append(f"{quoted},x,{spaced},-5")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


def test_csv_output_neutralises_formulas_but_not_numbers(env, formula_csv, tmp_path):
    result = run("check", str(formula_csv), "--column", "phone", env=env)
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert list(got[0])[:4] == ["note", "'=cmd|x", "phone", "amount"]
    assert [r["note"] for r in got] == ["'" + cell for cell in FORMULA_CELLS]
    assert all(r["phone"].startswith("+41 ") for r in got)  # phone numbers untouched
    assert all(r["amount"] == "-5" and r["number"].startswith("+") for r in got)
    # Written to a file (and by export, cache export) the same way.
    out = tmp_path / "out.csv"
    assert run("check", str(formula_csv), "--column", "phone", "-o", str(out), "-q",
               env=env).returncode == 0
    assert [r["note"] for r in rows(out.read_text())] == ["'" + c for c in FORMULA_CELLS]


# The columns the CSV writer searches for formulas (output_formats.neutralised's
# columns), printed by a process that runs the command.
CHECK_AND_SHOW_SEARCHED = cli_script(
    "from tgcheck.default_plugins import output_formats\n"
    "searched = []\n"
    "def spy(rows, columns=None):\n"
    "    searched.append(list(columns))\n"
    "    return real(rows, columns)\n"
    "real, output_formats.neutralised = output_formats.neutralised, spy\n",
    "print(searched, file=sys.stderr)\n")


def test_a_column_of_valid_numbers_is_not_searched_for_formulas(env, formula_csv, tmp_path):
    # Numbers the normaliser gave back as they are ("+" and digits) are never a
    # formula: their column is left out of the search (a cached 200,000-line .txt:
    # no pass at all); one written otherwise (spaced) is searched as any text.
    clean = tmp_path / "clean.txt"
    clean.write_text("\n".join(numbers(3)) + "\n", encoding="utf-8")
    crm = tmp_path / "crm2.csv"
    crm.write_text("note,phone\n" + "".join(f"=1+{i},{n}\n" for i, n in
                                             enumerate(numbers(3))), encoding="utf-8")

    def searched(*args) -> str:
        done = subprocess.run([sys.executable, "-c", CHECK_AND_SHOW_SEARCHED, "check",
                               *args, "-o", str(tmp_path / "out.csv"), "-q"],
                              env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr.strip().splitlines()[-1]

    assert searched(str(clean)) == "[[]]"
    assert searched(str(crm), "--column", "phone") == "[[0]]"
    assert [r["note"] for r in rows((tmp_path / "out.csv").read_text())] == [
        "'=1+0", "'=1+1", "'=1+2"]
    assert searched(str(formula_csv), "--column", "phone") == "[[0, 1, 2, 3]]"


def test_raw_csv_writes_cells_as_they_came(env, formula_csv):
    result = run("check", str(formula_csv), "--column", "phone", "--raw-csv", env=env)
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert list(got[0])[1] == "=cmd|x"
    assert [r["note"] for r in got] == FORMULA_CELLS


def test_xlsx_and_parquet_keep_formula_text_as_text(env, formula_csv, tmp_path):
    """xlsx cells are written as strings, which Excel never runs: no quote is added
    there, and no cell of the sheet is a formula. Parquet keeps the text as it came."""
    import zipfile

    out_xlsx, out_parquet = tmp_path / "a.xlsx", tmp_path / "a.parquet"
    for out in (out_xlsx, out_parquet):
        result = run("check", str(formula_csv), "--column", "phone", "-o", str(out), "-q",
                     env=env)
        assert result.returncode == 0, result.stderr
    sheet = read_xlsx(out_xlsx)
    assert [r[0] for r in sheet[1:]] == FORMULA_CELLS and sheet[0][1] == "=cmd|x"
    with zipfile.ZipFile(out_xlsx) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    got = duckdb.sql(f"SELECT note FROM '{out_parquet}'").fetchall()
    assert [g[0] for g in got] == FORMULA_CELLS
