"""TG_CHECK for classic xlwings (Windows desktop Excel, "UDF Modules: tgcheck_udfs").

async_mode="threading": Excel stays responsive while a task runs (the cell shows
#N/A "Waiting" until the answers come). xlwings itself does not dedupe calls; the
engine does: concurrent recalculations of the same range share one job, and later
ones answer from the local store without any API call.
"""

from __future__ import annotations

from .checking import check_range, range_function


@range_function(reasons=True, task_types=True, async_mode="threading")
def tg_check(numbers, region=None, reasons=None, task_type=None):
    """Telegram account? yes / no, invalid, unknown; blank cells stay blank. A task
    type with fields (tg_active) spills them beside the answers."""
    return check_range(numbers, region, reasons, task_type)
