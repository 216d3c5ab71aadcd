"""TG_CHECK for classic xlwings (Windows desktop Excel, "UDF Modules: tgcheck_udfs").

async_mode="threading": Excel stays responsive while a task runs (the cell shows
#N/A "Waiting" until the answers come). xlwings itself does not dedupe calls; the
engine does: concurrent recalculations of the same range share one job, and later
ones answer from the local store without any API call.
"""

from __future__ import annotations

import xlwings as xw

from .checking import check_range


@xw.func(async_mode="threading")
@xw.arg("numbers", ndim=2, doc="Range of phone numbers, any shape (E.164 or national).")
@xw.arg("region", doc='Optional: country for national numbers, e.g. "TR".')
def tg_check(numbers, region=None):
    """Telegram account? yes / no, invalid, unknown; blank cells stay blank."""
    return check_range(numbers, region)
