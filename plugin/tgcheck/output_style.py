"""Output files shaped like their input, so Excel opens them as the user saved them.

A German Excel saves CSV as `;`-separated cp1252, and opens CSV the same way: a
`,`-separated UTF-8 file shows up there as one column with broken umlauts. So a
CSV output follows its input's delimiter and encoding (txt/csv inputs), and
`--bom` writes UTF-8 with a byte-order mark, which every Excel reads as UTF-8.
An xlsx output keeps the input's sheet name and its other sheets (values only),
in their order. Output files get the mode the umask gives new files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

DEFAULT_SHEET = "answers"


@dataclasses.dataclass(frozen=True)
class OutputStyle:
    delimiter: str = ","
    encoding: str = "utf-8"
    sheet: str = DEFAULT_SHEET
    # Sheets of the input workbook copied before / after the answers' sheet.
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    workbook: Path | None = None
    # CSV cells Excel would run as a formula get a leading ' (tgcheck.csv_formulas);
    # False (--raw-csv) writes them as they came.
    csv_safe: bool = True
    # The columns whose cells can hold someone else's text (the input's own, a
    # provider's text fields); None: every column. tgcheck's own columns (E.164
    # numbers, yes/no, statuses, reasons) never start a formula.
    csv_text_columns: tuple[int, ...] | None = None


def style_for(table, *, bom: bool = False, csv_safe: bool = True) -> OutputStyle:
    """The output style that matches the input table (an InputTable)."""
    encoding = getattr(table, "encoding", None) or "utf-8"
    if bom or encoding == "utf-8-sig":
        encoding = "utf-8-sig"
    elif encoding == "utf-16":
        encoding = "utf-16"  # Excel's "Unicode text": written with its BOM
    elif encoding not in ("cp1252", "latin-1"):
        encoding = "utf-8"
    style = OutputStyle(delimiter=getattr(table, "delimiter", None) or ",", encoding=encoding,
                        csv_safe=csv_safe)
    sheet, sheets = getattr(table, "sheet", None), getattr(table, "sheets", None) or []
    if sheet is not None and sheet in sheets:
        at = sheets.index(sheet)
        style = dataclasses.replace(style, sheet=sheet, before=tuple(sheets[:at]),
                                    after=tuple(sheets[at + 1:]), workbook=table.path)
    return style


def sheet_rows(workbook: Path, name: str):
    """A sheet's cells as rows of values (calamine: dates as date/datetime)."""
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(workbook)).get_sheet_by_name(name).iter_rows()


def xlsx_sheet_name(name: str) -> str:
    # xlsx refuses []:*?/\ and more than 31 characters in a sheet name (an .ods
    # or .xls input can have them).
    return re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or DEFAULT_SHEET


def umask_mode() -> int:
    """The mode a new file gets under the current umask (0666 & ~umask)."""
    try:  # Linux: read it without changing it (os.umask would, for every thread)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
