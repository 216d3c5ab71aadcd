"""The Excel face of tgcheck: xlwings functions and the check_selection macro.

Classic xlwings (Windows): set "UDF Modules" to tgcheck_udfs and Import Functions;
=TG_CHECK(A2:A20000) or =TG_CHECK(A2:A100, "TR"). The macro:
RunPython "import tgcheck_udfs; tgcheck_udfs.check_selection()".

xlwings Server (XLWINGS_ON_SERVER=true, read by xlwings at import): the same module
serves TG_CHECK, the streaming TG_CHECK_LIVE, TG_SUBMIT/TG_WATCH for large ranges,
and the check_selection script. See docs/excel.md.

xlwings is imported when a function is first asked for (xlwings itself lists
the module, or a caller uses one), not by the package: the pure parts (.grid,
.selection, .progress) import without it.
"""

# Only the functions and the script: xlwings Server is set up with
# `from tgcheck_udfs import *`, and anything else exported here would land in
# its namespace. Helpers are imported from their modules (.checking, .selection).
_SERVER = ("check_selection", "tg_check", "tg_check_live", "tg_submit", "tg_watch")


# As the other faces say it (tgcheck sql, an output format): from the checkout, as
# the README installs it; tgcheck is not on PyPI.
NEEDS_XLWINGS = ('the Excel functions need xlwings, the [excel] extra: python -m pip install '
                 '-e ".[excel]" in the tgcheck checkout')


def _functions() -> dict:
    try:
        import xlwings as xw
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] != "xlwings":
            raise  # not the missing extra: say what really broke
        # Still a ModuleNotFoundError (hasattr, dir and callers catching it work).
        raise ModuleNotFoundError(f"{NEEDS_XLWINGS}; missing: {e.name}",
                                  name="xlwings") from None

    if getattr(xw, "on_server", False):
        from . import server

        return {name: getattr(server, name) for name in _SERVER}
    from .classic import tg_check
    from .macro import check_selection

    return {"check_selection": check_selection, "tg_check": tg_check}


def __getattr__(name: str):
    if name == "__all__" or name in _SERVER:
        found = _functions()
        globals().update(found, __all__=list(found))
        if name == "__all__":
            return list(found)
        if name in found:
            return found[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    try:
        return sorted({*globals(), *__getattr__("__all__")})
    except ImportError:  # without xlwings: the pure parts only (tab completion, hasattr)
        return sorted(globals())
