"""What a process pays before any work: imports and the cyclic collector
(docs/performance.md, figure 2). Fresh interpreters, so nothing a test imported
before can hide an import."""

import csv
import os
import subprocess
import sys

from tgcheck.tables import write_table


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.split()


def test_the_cli_freezes_its_imports_and_collects_less_often():
    out = _run(
        "import gc, sys\n"
        "sys.argv = ['tgcheck', '--version']\n"
        "from tgcheck.cli import main\n"
        "before = gc.get_threshold()[0]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(before, gc.get_threshold()[0], gc.get_freeze_count() > 1000)\n")
    assert out[-3:] == ["700", "100000", "True"]


def test_csv_output_writes_none_as_an_empty_cell(tmp_path):
    target = tmp_path / "out.csv"
    count = write_table(str(target), "csv", ["a", "b", "c"],
                        iter([["x", None, 1], [None, "", "y,z"]]))
    assert count == 2
    with open(target, newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["a", "b", "c"], ["x", "", "1"], ["", "", "y,z"]]


def test_the_cli_loads_country_names_only_when_a_region_is_read():
    out = _run(
        "import sys, tgcheck.cli\n"
        "from tgcheck.regions import fixed_region\n"
        "print('pycountry' in sys.modules, fixed_region(None), 'pycountry' in sys.modules)\n"
        "print(fixed_region('Switzerland'), 'pycountry' in sys.modules)\n")
    assert out == ["False", "None", "False", "CH", "True"]


def test_names_in_other_languages_load_only_when_an_english_one_fails():
    # Babel's CLDR tables take most of a second: only a name no English table
    # knows ("Brasil") loads them.
    out = _run(
        "import sys, tgcheck\n"
        "from tgcheck.regions import fixed_region\n"
        "print('babel' in sys.modules, fixed_region('Brazil'), 'babel' in sys.modules)\n"
        "print(fixed_region('Brasil'), 'babel' in sys.modules)\n")
    assert out == ["False", "BR", "False", "BR", "True"]


def test_an_httpx_that_needs_its_client_is_imported_whole(tmp_path):
    # A future httpx might import its command-line client unguarded: tgcheck must
    # then import httpx as it is, not fail every HTTP path with ImportError.
    fake = tmp_path / "httpx"
    fake.mkdir()
    (fake / "__init__.py").write_text("from ._main import main\nVERSION = 'fake'\n")
    (fake / "_main.py").write_text("def main():\n    return 'client'\n")
    code = ("from tgcheck import _lean_httpx; _lean_httpx.skip_cli_client(); "
            "from tgcheck._lean_httpx import httpx; "
            "assert httpx.VERSION == 'fake' and httpx.main() == 'client'; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_help_and_version_import_no_duckdb_arrow_or_numpy():
    # Issue 25: DuckDB, Arrow and numpy cost about 0.3 s of CPU to import; the
    # SQL face's command is listed by --help without loading its module.
    for args in (["--help"], ["--version"], ["check", "--help"]):
        out = _run(
            "import sys\n"
            "from tgcheck.cli import main\n"
            f"sys.argv = ['tgcheck', *{args!r}]\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('LOADED', *[m for m in ('duckdb', 'pyarrow', 'numpy') if m in sys.modules])\n")
        assert out[out.index("LOADED"):] == ["LOADED"], (args, out)
        if args == ["--help"]:
            assert "sql" in out  # the face's command is listed all the same


def test_the_doctors_checks_load_only_when_the_doctor_runs():
    # tgcheck.doctor brings subprocess and the salvage scanner: about 0.007 s of
    # every other command's start (a cached check's included) before it was
    # imported by the command itself.
    out = _run(
        "import sys\n"
        "from tgcheck.cli import main\n"
        "sys.argv = ['tgcheck', '--version']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('LOADED', *[m for m in ('tgcheck.doctor', 'tgcheck.salvage_scan', 'subprocess')\n"
        "                  if m in sys.modules])\n")
    assert out[out.index("LOADED"):] == ["LOADED"], out


def test_a_column_the_store_answers_as_written_never_loads_phonenumbers(sandbox, tmp_path):
    # libphonenumber's import costs about 0.015 s of CPU: a cached re-run of a
    # column written as E.164 reads no cell (Planning._known), so it does not
    # need it. A first run reads its cells, and so does a re-run with one cell
    # written otherwise.
    from conftest import child_env, numbers

    env = child_env(sandbox, tmp_path / "home")
    clean, mixed = tmp_path / "clean.txt", tmp_path / "mixed.txt"
    clean.write_text("\n".join(numbers(20)) + "\n", encoding="utf-8")
    mixed.write_text("\n".join([*numbers(20), "+41 79 000 00 05"]) + "\n", encoding="utf-8")
    code = ("import runpy, sys\n"
            "sys.argv = ['tgcheck', 'check', sys.argv[1], '-o', sys.argv[2], '-q',"
            " '--progress', 'none']\n"
            "try:\n"
            "    runpy.run_module('tgcheck', run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('phonenumbers' in sys.modules)\n")
    loaded = []
    for source in (clean, clean, mixed):
        done = subprocess.run([sys.executable, "-c", code, str(source), str(tmp_path / "out.csv")],
                              env=env, capture_output=True, text=True, timeout=120, check=True)
        loaded.append(done.stdout.split()[-1])
    assert loaded == ["True", "False", "True"]
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 21 and rows[-1]["number"] == "+41790000005"
