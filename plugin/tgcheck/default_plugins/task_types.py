"""Built-in task types. The vendor's list changes, so each is declared, not hard-coded."""

from ..hookspecs import hookimpl
from ..models import TaskType

YES_NO = frozenset({"yes", "no"})


@hookimpl
def tgcheck_register_task_types(register):
    register(TaskType("tg", "telegram", YES_NO, "has a Telegram account"))
    register(TaskType("ws", "whatsapp", YES_NO, "has a WhatsApp account"))
    register(
        TaskType(
            "tg_active",
            "telegram_days",
            frozenset({"1", "7", "30", "N/A"}),
            "days since last seen on Telegram (1/7/30/N/A)",
        )
    )
