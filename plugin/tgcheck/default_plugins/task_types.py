"""Built-in task types. The vendor's list changes, so each is declared, not hard-coded.

Each names its headline (the result column every face shows first) and the typed
fields it keeps beside it (tgcheck.fields); docs/task-types.md lists them.
"""

from ..fields import INTEGER, URL, Field
from ..hookspecs import hookimpl
from ..models import TaskType
from ..plugin_settings import DEFAULT_PROVIDER as EKYCPRO

YES_NO = frozenset({"yes", "no"})

TG_ACTIVE = TaskType(
    "tg_active",
    "telegram_days",
    frozenset({"1", "7", "30", "N/A"}),
    "days since last seen on Telegram (1/7/30/N/A)",
    provider=EKYCPRO,
    # The vendor's 1/7/30 as a number a face can compare and sum; N/A (not seen
    # within 30 days, or no account) is None there, while the headline keeps it.
    fields=(Field("seen_within_days", INTEGER, column="telegram_days",
                  description="last seen on Telegram within this many days (1, 7 or 30); "
                              "empty: not within 30 days or no account"),),
)
TG_AVATAR = TaskType(
    "tg_avatar",
    "avatar",
    None,
    "Telegram profile picture (its URL; N/A: no account or no picture)",
    provider=EKYCPRO,
    fields=(Field("avatar_url", URL, column="avatar",
                  description="the profile picture's http(s) URL; empty: none"),),
)


@hookimpl
def tgcheck_register_task_types(register):
    register(TaskType("tg", "telegram", YES_NO, "has a Telegram account", provider=EKYCPRO))
    register(TaskType("ws", "whatsapp", YES_NO, "has a WhatsApp account", provider=EKYCPRO))
    register(TG_ACTIVE)
    register(TG_AVATAR)
