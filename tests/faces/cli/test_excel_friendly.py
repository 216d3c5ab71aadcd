"""Output files Excel opens as the user saved the input: CSV in the input's
delimiter and encoding (or UTF-8 with a BOM on request), xlsx with the input's
sheet name and other sheets; every output file with the mode the umask gives."""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
import subprocess
import sys

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from test_cli import ROOT, cli_env, run

from conftest import numbers


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


@pytest.fixture
def german_csv(tmp_path):
    src = tmp_path / "kunden.csv"
    src.write_bytes(f"Name;Ort;Telefon\r\nJürg;Zürich;{numbers(1)[0]}\r\n"
                    f"Zoë;Genève;{numbers(2)[1]}\r\n".encode("cp1252"))
    return src


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
    book = xlsxwriter.Workbook(src)
    intro = book.add_worksheet("Intro")
    intro.write_row(0, 0, ["read me", 42])
    leads = book.add_worksheet("Leads")
    leads.write_row(0, 0, ["Name", "Mobile"])
    leads.write_row(1, 0, ["Ann", numbers(1)[0]])
    notes = book.add_worksheet("Notes")
    notes.write_row(0, 0, ["kept"])
    book.close()
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
    book = xlsxwriter.Workbook(src)
    book.add_worksheet("Leads").write_row(0, 0, ["Mobile"])
    book.close()
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
