"""The Excel face of tgcheck: xlwings functions and the check_selection macro.

Classic xlwings (Windows): set "UDF Modules" to tgcheck_udfs and Import Functions;
=TG_CHECK(A2:A20000) or =TG_CHECK(A2:A100, "TR"). The macro:
RunPython "import tgcheck_udfs; tgcheck_udfs.check_selection()".

xlwings Server (XLWINGS_ON_SERVER=true, read by xlwings at import): the same module
serves TG_CHECK, the streaming TG_CHECK_LIVE, TG_SUBMIT/TG_WATCH for large ranges,
and the check_selection script. See docs/excel.md.
"""

import xlwings as xw

# Only the functions and the script: xlwings Server is set up with
# `from tgcheck_udfs import *`, and anything else exported here would land in
# its namespace. Helpers are imported from their modules (.checking, .selection).
if getattr(xw, "on_server", False):
    from .server import check_selection, tg_check, tg_check_live, tg_submit, tg_watch

    __all__ = ["check_selection", "tg_check", "tg_check_live", "tg_submit", "tg_watch"]
else:
    from .classic import tg_check
    from .macro import check_selection

    __all__ = ["check_selection", "tg_check"]
