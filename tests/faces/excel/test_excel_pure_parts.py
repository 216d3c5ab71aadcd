"""The Excel face's pure parts (grid, selection, progress, the macro's plan and
checking's cell logic) import without xlwings: a Python where xlwings cannot be
imported at all proves it."""

from __future__ import annotations

import subprocess
import sys

from paths import ROOT


def test_pure_parts_import_without_xlwings():
    code = (
        "import sys; sys.modules['xlwings'] = None\n"
        "import tgcheck_udfs.grid, tgcheck_udfs.selection, tgcheck_udfs.progress\n"
        "import tgcheck_udfs.checking, tgcheck_udfs.macro\n"
        "from tgcheck_udfs.grid import as_grid, fold\n"
        "assert fold(['a', 'b'], as_grid([1, 2])) == [['a'], ['b']]\n"
        "try:\n"
        "    import tgcheck_udfs; tgcheck_udfs.tg_check\n"
        "except ImportError:\n"
        "    print('functions need xlwings')\n"
        "print('pure parts imported')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "functions need xlwings\npure parts imported\n"


def test_the_package_lists_its_functions_for_xlwings():
    import tgcheck_udfs

    assert {"tg_check", "check_selection"} <= set(dir(tgcheck_udfs))
    assert set(tgcheck_udfs.__all__) == {"tg_check", "check_selection"}
    assert callable(tgcheck_udfs.tg_check) and callable(tgcheck_udfs.check_selection)


def test_dir_of_the_package_works_without_xlwings():
    # dir() serves tab completion: it must not raise where the functions cannot load.
    code = ("import sys; sys.modules['xlwings'] = None\n"
            "import tgcheck_udfs\n"
            "names = dir(tgcheck_udfs)\n"
            "assert 'tg_check' not in names and '__name__' in names\n"
            "print('listed')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.stdout == "listed\n", done.stderr


def test_the_functions_without_xlwings_name_the_excel_extra():
    """Issue 22: `tgcheck_udfs.tg_check` without xlwings was a bare
    ModuleNotFoundError; it names the [excel] extra, as the other faces do."""
    code = ("import sys; sys.modules['xlwings'] = None\n"
            "import tgcheck_udfs\n"
            "try:\n"
            "    tgcheck_udfs.tg_check\n"
            "except ModuleNotFoundError as e:\n"
            "    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert '[excel] extra: python -m pip install -e ".[excel]"' in done.stdout, done.stderr
