"""One range through the engine: settings, region, errors that are safe to show in a cell."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import xlwings as xw

import tgcheck
from tgcheck import ConfigError, JobEvent, Settings, TgcheckError

# RegionError: the core's, re-exported for callers of this module's older name.
from tgcheck.regions import RegionError, fixed_region  # noqa: F401

from .grid import as_grid, cell_text, flatten, fold

ERROR_PREFIX = "error: "
# set-key first: every face reads the stored key at each call, so it works at the
# next recalculation, while a new environment variable needs Excel restarted.
NO_KEY_HINT = (
    "no API key: run `tgcheck config set-key` (as the user Excel runs as; no restart "
    "needed), or set TGCHECK_API_KEY for the Python that runs Excel's functions "
    "(to try without a key: run `tgcheck sandbox` and set the TGCHECK_BASE_URL and "
    "TGCHECK_API_KEY it prints)"
)

NUMBERS_DOC = "Range of phone numbers, any shape (E.164 or national)."
REGION_DOC = 'Optional: country for national numbers, e.g. "TR".'


def range_function(**options):
    """xw.func(**options) over f(numbers, region=None): one place for the argument
    docs and converters that TG_CHECK and its server siblings share.

    xw.func and xw.arg are looked up when decorating: with XLWINGS_ON_SERVER=true
    they are xlwings Server's, otherwise classic xlwings'.
    """

    def decorate(f):
        # The order of the stacked decorators it replaces: the args first, region
        # innermost, then func.
        f = xw.arg("region", doc=REGION_DOC)(f)
        f = xw.arg("numbers", ndim=2, doc=NUMBERS_DOC)(f)
        return xw.func(**options)(f)

    return decorate


def clean_region(region: object) -> str | None:
    """Excel passes an omitted optional argument as None and an empty cell as "" or None.

    The core's check (tgcheck.regions): "GB", "UK", "United Kingdom", 44 alike; an
    unknown region raises RegionError with the closest names.
    """
    return fixed_region(region)


def safe_text(error: BaseException, settings: Settings | None) -> str:
    """An error as a cell text, with the API key cut out whatever the message says.

    tgcheck's own messages never hold the key; a third-party provider plugin's or a
    library's might, and a cell is shared with everyone who opens the workbook.
    """
    if isinstance(error, ConfigError) and "no API key" in str(error):
        text = NO_KEY_HINT
    elif isinstance(error, TgcheckError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    key = settings.api_key.reveal() if settings is not None and settings.api_key else ""
    if key:
        text = text.replace(key, "***")
    return ERROR_PREFIX + text


def load_settings() -> Settings:
    """Read per call, so a changed TGCHECK_* variable takes effect at the next recalculation."""
    return Settings.from_env()


def check_values(
    flat: Sequence[object],
    region: str | None,
    settings: Settings,
    *,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Cell texts for flat cell values, same order. Raises the engine's errors."""
    engine = tgcheck.get_engine(settings)
    answers = engine.check(flat, task_type="tg", region=region, on_event=on_event,
                           cancel=cancel)
    return [cell_text(a) for a in answers]


def check_range(numbers: object, region: object = None) -> list[list[str]]:
    """The whole of TG_CHECK: a range in, the same shape out, or one error cell."""
    settings = None
    try:
        settings = load_settings()
        grid = as_grid(numbers)
        texts = check_values(flatten(grid), clean_region(region), settings)
        return fold(texts, grid)
    except Exception as e:  # a cell shows the error; xlwings' own popup would show a traceback
        return [[safe_text(e, settings)]]
