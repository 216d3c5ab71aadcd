"""One range through the engine: settings, region, errors that are safe to show in a cell."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import tgcheck
from tgcheck import AnswerColumn, InputError, JobEvent, Settings, plugins, settings_registry
from tgcheck.errors import describe
from tgcheck.fields import as_cell

# RegionError: the core's, re-exported for callers of this module's older name.
from tgcheck.regions import RegionError, fixed_region, per_row  # noqa: F401

from .grid import as_grid, cell_texts, flatten, fold, reason_texts

ERROR_PREFIX = "error: "
# set-key first: every face reads the stored key at each call, so it works at the
# next recalculation, while a new environment variable needs Excel restarted.
NO_KEY_HINT = (
    "no API key: run `tgcheck config set-key` (as the user Excel runs as; no restart "
    "needed), or set TGCHECK_API_KEY for the Python that runs Excel's functions "
    "(to try without a key: run `tgcheck sandbox` and set the TGCHECK_BASE_URL, "
    "TGCHECK_API_KEY and TGCHECK_SANDBOX it prints)"
)

NUMBERS_DOC = "Range of phone numbers, any shape (E.164 or national)."
REGION_DOC = ('Optional: country for national numbers ("TR", "Turkey", 90), or a range of '
              "the same shape with each number's country.")
REASONS_DOC = "Optional: TRUE spills each answer's reason (e.g. too_short: ...) beside it."
TASK_TYPE_DOC = ('Optional: what to check ("tg_active"; default TGCHECK_TASK_TYPE or tg); '
                 "its fields spill as columns beside the answers.")


def range_function(*, reasons: bool = False, task_types: bool = False, **options):
    """xw.func(**options) over f(numbers, region=None[, reasons=False]): one place for
    the argument docs and converters that TG_CHECK and its server siblings share.

    xw.func and xw.arg are looked up when decorating: with XLWINGS_ON_SERVER=true
    they are xlwings Server's, otherwise classic xlwings'.
    """

    import xlwings as xw  # here: the module's pure parts import without xlwings

    def decorate(f):
        # The order of the stacked decorators it replaces: the args first, region
        # innermost, then func. region as 2-D too: one cell or a range alike.
        if task_types:
            f = xw.arg("task_type", doc=TASK_TYPE_DOC)(f)
        if reasons:
            f = xw.arg("reasons", doc=REASONS_DOC)(f)
        f = xw.arg("region", ndim=2, doc=REGION_DOC)(f)
        f = xw.arg("numbers", ndim=2, doc=NUMBERS_DOC)(f)
        return xw.func(**options)(f)

    return decorate


def regions_for(region: object, grid: list[list[object]]) -> str | list | None:
    """The region argument -> one region for all, or one per cell of grid.

    One value or one cell: the core's check (an unknown one raises RegionError,
    shown in the cell). A range of the numbers' shape: one per cell (an unknown
    value makes that cell invalid; an empty one reads no region).
    """
    if not isinstance(region, (list, tuple)):
        return clean_region(region)
    cells = as_grid(region)
    flat = flatten(cells)
    if len(flat) == 1:
        return clean_region(flat[0])
    if [len(row) for row in cells] != [len(row) for row in grid]:
        shape = f"{len(cells)}x{len(cells[0]) if cells else 0}"
        want = f"{len(grid)}x{len(grid[0]) if grid else 0}"
        raise InputError(f"regions: a {shape} range for {want} numbers; give one region, "
                         "or a range of the same shape as the numbers")
    return per_row(flat)


def clean_region(region: object) -> str | None:
    """Excel passes an omitted optional argument as None and an empty cell as "" or None.

    The core's check (tgcheck.regions): "GB", "UK", "United Kingdom", 44 alike; an
    unknown region raises RegionError with the closest names.
    """
    return fixed_region(region)


def safe_text(error: BaseException, settings: Settings | None = None) -> str:
    """An error as a cell text, the API key masked whatever the message says
    (tgcheck.errors.describe, as every face shows errors): a cell is shared with
    everyone who opens the workbook. settings: kept for callers; every key is
    masked, not only theirs."""
    return ERROR_PREFIX + describe(error, no_key=NO_KEY_HINT)


def load_settings() -> Settings:
    """Read per call, so a changed TGCHECK_* variable takes effect at the next recalculation."""
    return Settings.from_env()


def task_type(given: object = None) -> str:
    """What TG_CHECK and check_selection ask: the function's own argument (a
    cell or text; empty: none), else TGCHECK_TASK_TYPE, else tg. With
    TGCHECK_PROVIDER it selects another provider's question (e.g. wscheck's ws)."""
    if isinstance(given, (list, tuple)):  # a one-cell range
        flat = flatten(as_grid(given))
        given = flat[0] if len(flat) == 1 else None
    if isinstance(given, str) and given.strip():
        return given.strip()
    return settings_registry.value("task_type").strip() or "tg"


def field_cells(answers: AnswerColumn, names: Sequence[str]) -> list[list[object]]:
    """Per field, its cell for each answer: typed (a number, TRUE/FALSE, a date in
    UTC; tgcheck.fields.as_cell), "" where there is none."""
    per_input = answers.fields() if names else []
    out = []
    for name in names:
        column = []
        for fields in per_input:
            value = None if fields is None else fields.get(name)
            column.append("" if value is None else as_cell(value))
        out.append(column)
    return out


def call_inputs(numbers: object, region: object):
    """(settings, grid, regions) of one function call: what every Excel function
    reads first. Raises what the cell then shows (safe_text)."""
    grid = as_grid(numbers)
    return load_settings(), grid, regions_for(region, grid)


def check_answers(
    flat: Sequence[object],
    region: str | Sequence[object] | None,
    settings: Settings,
    *,
    kind: str | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> AnswerColumn:
    """The engine's answers for flat cell values, same order (the core's answer
    column). Raises the engine's errors. region: one for all, or one per value;
    kind: the task type (None: task_type())."""
    engine = tgcheck.get_engine(settings)
    return engine.check_column(flat, task_type=kind or task_type(), region=region,
                               on_event=on_event, cancel=cancel)


def check_cells(
    flat: Sequence[object],
    region: str | Sequence[object] | None,
    settings: Settings,
    *,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[str], list[str]]:
    """(cell texts, reason texts) for flat cell values, same order. Raises the
    engine's errors. region: one for all, or one per value."""
    answers = check_answers(flat, region, settings, on_event=on_event, cancel=cancel)
    return cell_texts(answers), reason_texts(answers)


def check_values(flat: Sequence[object], region: str | Sequence[object] | None,
                 settings: Settings, **kwargs) -> list[str]:
    """Cell texts for flat cell values, same order. Raises the engine's errors."""
    return check_cells(flat, region, settings, **kwargs)[0]


def wants_reasons(reasons: object) -> bool:
    """Excel's TRUE, 1, "yes"; an omitted argument or an empty cell is no."""
    if isinstance(reasons, (list, tuple)):  # a one-cell range
        flat = flatten(as_grid(reasons))
        reasons = flat[0] if len(flat) == 1 else None
    if isinstance(reasons, str):
        return reasons.strip().lower() in ("true", "yes", "1", "reason", "reasons")
    return bool(reasons) and reasons == reasons  # NaN is no


def check_range(numbers: object, region: object = None,
                reasons: object = None, kind: object = None) -> list[list[object]]:
    """The whole of TG_CHECK: a range in, the same shape out (each row followed by
    its task type's fields, then its reasons when asked), or one error cell."""
    try:
        settings, grid, regions = call_inputs(numbers, region)
        ttype = plugins.get_task_type(task_type(kind), settings.provider)
        answers = check_answers(flatten(grid), regions, settings, kind=ttype.name)
        out = fold(cell_texts(answers), grid)
        # One block per field beside the answers (issue 24), each the range's shape.
        for column in field_cells(answers, ttype.field_names):
            out = [a + b for a, b in zip(out, fold(column, grid), strict=True)]
        if wants_reasons(reasons):
            out = [a + b for a, b in zip(out, fold(reason_texts(answers), grid),
                                         strict=True)]
        return out
    except Exception as e:  # a cell shows the error; xlwings' own popup would show a traceback
        return [[safe_text(e)]]
