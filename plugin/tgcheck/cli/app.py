"""The `tgcheck` group: its built-in commands, then those plugins add; main().

Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

import gc
import importlib

import click

from .. import (
    _lean_httpx,
    command_errors,
    plugins,
)
from ..errors import TgcheckError, describe, exit_code

# Faces shipped with tgcheck that add commands through the same hook as any
# plugin (tgcheck_register_commands); each where its package can be imported.
FACE_PLUGINS = ("tgcheck_duckdb.commands",)


def plugin_manager():
    """The loaded plugin manager, with the faces' command plugins registered."""
    pm = plugins.load()
    for name in FACE_PLUGINS:
        if not pm.has_plugin(name):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            pm.register(module, name)
    return pm


class _Group(click.Group):
    """The built-in commands, then those that plugins add (`tgcheck sql` is the SQL
    face's). Plugins are asked only for a name that is not built in, or for the
    list (--help): `tgcheck check` imports no command plugin (DuckDB costs a fifth
    of a second), and a plugin cannot replace a built-in command."""

    _plugins_asked = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_asked:
            return
        self._plugins_asked = True
        built_in = dict(self.commands)
        try:
            plugin_manager().hook.tgcheck_register_commands(cli=self)
        except TgcheckError as e:  # a broken plugin: one line, like any error
            command_errors.fail(describe(e), exit_code(e))
        self.commands.update(built_in)

    def list_commands(self, ctx):
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tgcheck")
def cli():
    """Check in bulk which phone numbers have a Telegram account.

    \b
    Examples:
      tgcheck check examples/numbers.txt --sandbox   # try it, no key needed
      tgcheck config set-key                         # store your ekycpro key (hidden prompt)
      tgcheck check customers.xlsx -o answers.xlsx   # every column kept, answers appended
      tgcheck check numbers.csv --dry-run            # what it would send, no API call
      tgcheck jobs                                   # the journal of open jobs

    Exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted.
    Full reference: docs/cli.md.
    """



def main() -> None:
    """The `tgcheck` command. A face that owns its process, it opts in to what a
    library must not do to its caller (docs/architecture.md, "Process-wide
    state"): the collector tuned, and httpx without its command-line client."""
    command_errors.standalone = True
    # One command, one process: what the imports made lives until it exits, so
    # the cyclic collector need never scan it again; and a check of 200,000
    # numbers makes a million containers, each 700 of which would start a
    # collection. Collected less often, not never (0.14 s to 0.06 s of CPU in a
    # new 200,000-number check, see docs/performance.md).
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    # The command never runs httpx's own client: 0.05 s of CPU less per start.
    _lean_httpx.skip_cli_client()
    cli(prog_name="tgcheck")
