"""`tgcheck sql`, added to the CLI through the tgcheck_register_commands hook.

tgcheck's CLI registers this module like a plugin whenever the package is
there (tgcheck.cli.FACE_PLUGINS), so the command needs no entry point and
works with TGCHECK_LOAD_PLUGINS="". Without DuckDB (the [duckdb] extra) the
command still exists and says how to install it.
"""

from __future__ import annotations

from tgcheck.hookspecs import hookimpl

# From the checkout, as the README installs it: tgcheck is not on PyPI, and a
# `pip install tgcheck[...]` would fetch whatever owns that name there.
NEEDS_DUCKDB = ('`tgcheck sql` needs DuckDB, the [duckdb] extra: python -m pip install -e '
                '".[duckdb]" in the tgcheck checkout')
# What the extra brings; any other ImportError is a fault in the face itself.
EXTRA_MODULES = frozenset({"duckdb", "pyarrow", "numpy"})


@hookimpl
def tgcheck_register_commands(cli):
    try:
        from .cli import sql_command
    except ImportError as e:
        if (e.name or "").partition(".")[0] not in EXTRA_MODULES:
            raise  # not a missing extra: say what really broke
        cli.add_command(_needs_duckdb(f"{NEEDS_DUCKDB}; missing: {e.name or e}"))
        return
    cli.add_command(sql_command)


def _needs_duckdb(message: str):
    """A `tgcheck sql` that takes any arguments and says what to install (exit 2)."""
    import click

    from tgcheck.command_errors import handle_errors
    from tgcheck.errors import ConfigError

    @click.command("sql", context_settings={"ignore_unknown_options": True,
                                            "allow_extra_args": True},
                   short_help="DuckDB with the tgcheck functions (needs the [duckdb] extra).")
    @handle_errors
    def sql_command():
        raise ConfigError(message)

    return sql_command
