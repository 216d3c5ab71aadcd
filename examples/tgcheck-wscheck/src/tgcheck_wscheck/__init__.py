"""tgcheck-wscheck: the WhatsApp number checker (checknumber.ai) as a tgcheck provider.

The whole plugin is the hook implementations below; tgcheck finds this module
through the `tgcheck` entry point in pyproject.toml. Select it with
TGCHECK_PROVIDER=wscheck, `--provider wscheck`, or Settings(provider="wscheck").
"""

import click

from tgcheck.plugin import Field, Setting, TaskType, hookimpl, readers

from .provider import DEFAULT_BASE_URL, WscheckProvider
from .sandbox import COLUMNS, WsSandbox

YES_NO = frozenset({"yes", "no"})
TASK_TYPES = (
    # name, the result column tgcheck answers with, its values, the platform's minimum
    TaskType("ws", "activated", YES_NO, "has a WhatsApp account", min_task_size=500,
             provider="wscheck"),
    TaskType("ws_active", "activedays", None,
             "days since last active on WhatsApp (N/A: no account)", min_task_size=1000,
             fields=(Field("activetime", "date/time"), Field("activedays", "integer"),
                     Field("business", "yes/no")), provider="wscheck"),
    TaskType("ws_avatar", "avatar", None,
             "WhatsApp profile picture URL (N/A: no account)", min_task_size=500,
             # The platform's columns beside the picture (api notes, section 7).
             fields=(Field("age"), Field("avatar", "url"), Field("category"),
                     Field("gender"), Field("hair_color"), Field("skin_color")),
             provider="wscheck"),
)

__all__ = ["TASK_TYPES", "WsSandbox", "WscheckProvider"]


@hookimpl
def tgcheck_register_providers(register):
    # One call brings all the provider has. Its settings: while wscheck is selected,
    # TGCHECK_BASE_URL defaults to the platform's host, so its key is never sent to
    # another provider's. Its sandbox: what `--sandbox` and `tgcheck sandbox
    # --provider wscheck` start. Its readers: the core's generic ones (its result
    # file is a zip holding one CSV, `number` then the task type's columns), with
    # their guards against zip bombs and broken files.
    register("wscheck", WscheckProvider, sandbox=WsSandbox, readers=readers(), settings=[
        Setting("base_url", "TGCHECK_BASE_URL", DEFAULT_BASE_URL,
                help="the platform's API (default: https://api.checknumber.ai)")])


# Each task type names its provider: tgcheck's built-in `ws` (ekycpro's, column
# `whatsapp`) and this one coexist; the selected provider decides what `ws` means.
@hookimpl(trylast=True)
def tgcheck_register_task_types(register):
    for task_type in TASK_TYPES:
        register(task_type)


@hookimpl
def tgcheck_register_commands(cli):
    @cli.command("wscheck-types")
    def wscheck_types():
        """The platform's task types: tgcheck's answer column, the fewest numbers a
        task takes, and the other columns of its result file."""
        for t in TASK_TYPES:
            others = [c for c in COLUMNS[t.name] if c != t.column]
            click.echo(f"{t.name}\t{t.column}\t{t.min_task_size}\t{','.join(others) or '-'}")
