"""`tgcheck sql`, added to the CLI through the tgcheck_register_commands hook.

tgcheck's CLI registers this module like a plugin whenever the package is
there (tgcheck.cli.FACE_PLUGINS), so the command needs no entry point and
works with TGCHECK_LOAD_PLUGINS="". Without DuckDB (the [duckdb] extra) the
command still exists and says how to install it.
"""

from __future__ import annotations

import importlib.util
import sys

import click

from tgcheck.hookspecs import hookimpl

# From the checkout, as the README installs it: tgcheck is not on PyPI, and a
# `pip install tgcheck[...]` would fetch whatever owns that name there.
NEEDS_DUCKDB = ('`tgcheck sql` needs DuckDB, the [duckdb] extra: python -m pip install -e '
                '".[duckdb]" in the tgcheck checkout')
# What the extra brings; any other ImportError is a fault in the face itself.
EXTRA_MODULES = frozenset({"duckdb", "pyarrow", "numpy"})


# `tgcheck --help` lists the command by this line, without importing it.
SHORT_HELP = "Run QUERY in DuckDB with telegram_enrich, telegram_check and tg_normalize."
NEEDS_SHORT_HELP = "DuckDB with the tgcheck functions (needs the [duckdb] extra)."


@hookimpl
def tgcheck_register_commands(cli):
    cli.add_command(_LazySqlCommand())


def _load_sql_command():
    """The real `tgcheck sql` (importing DuckDB, Arrow and numpy), or, without the
    [duckdb] extra, one that says how to install it."""
    try:
        from .cli import sql_command
    except ImportError as e:
        if (e.name or "").partition(".")[0] not in EXTRA_MODULES:
            raise  # not a missing extra: say what really broke
        return _needs_duckdb(f"{NEEDS_DUCKDB}; missing: {e.name or e}")
    return sql_command


def _has_extra() -> bool:
    """Whether DuckDB, Arrow and numpy can be imported, asked of the import system
    without importing them."""
    for name in EXTRA_MODULES:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked on purpose
                return False
        elif importlib.util.find_spec(name) is None:
            return False
    return True


class _LazySqlCommand(click.Command):
    """`tgcheck sql` as the command list sees it: its name and short help. The
    module behind it, and DuckDB, Arrow and numpy with it, are imported only when
    it runs or shows its own help: `tgcheck --help` and `--version` load none of
    them (they cost more than half a second of start-up)."""

    def __init__(self):
        super().__init__("sql", short_help=SHORT_HELP if _has_extra() else NEEDS_SHORT_HELP)
        self._real: click.Command | None = None

    @property
    def real(self) -> click.Command:
        if self._real is None:
            self._real = _load_sql_command()
        return self._real

    # The context is the real command's: click then parses and invokes that one.
    def make_context(self, info_name, args, parent=None, **extra):
        return self.real.make_context(info_name, args, parent=parent, **extra)

    def get_params(self, ctx):
        return self.real.get_params(ctx)

    def get_help(self, ctx):
        return self.real.get_help(ctx)


def _needs_duckdb(message: str):
    """A `tgcheck sql` that takes any arguments and says what to install (exit 2)."""
    from tgcheck.command_errors import handle_errors
    from tgcheck.errors import ConfigError

    @click.command("sql", context_settings={"ignore_unknown_options": True,
                                            "allow_extra_args": True},
                   short_help=NEEDS_SHORT_HELP)
    @handle_errors
    def sql_command():
        raise ConfigError(message)

    return sql_command
