"""tgcheck-wscheck: the WhatsApp number checker (checknumber.ai) as a tgcheck provider.

The whole plugin is the hook implementations below; tgcheck finds this module
through the `tgcheck` entry point in pyproject.toml.
"""

from tgcheck import TaskType, hookimpl

from .provider import WscheckProvider

YES_NO = frozenset({"yes", "no"})
TASK_TYPES = (
    # name, the result column tgcheck answers with, its values, the platform's minimum
    TaskType("ws", "activated", YES_NO, "has a WhatsApp account", min_task_size=500),
    TaskType("ws_active", "activedays", None,
             "days since last active on WhatsApp (N/A: no account)", min_task_size=1000),
    TaskType("ws_avatar", "avatar", None,
             "WhatsApp profile picture URL (N/A: no account)", min_task_size=500),
)


@hookimpl
def tgcheck_register_providers(register):
    register("wscheck", WscheckProvider)


@hookimpl
def tgcheck_register_task_types(register):
    for task_type in TASK_TYPES:
        register(task_type)
