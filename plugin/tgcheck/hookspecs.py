"""Hook specifications: the whole plugin surface of tgcheck, one line each."""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("tgcheck")
hookimpl = HookimplMarker("tgcheck")


@hookspec
def tgcheck_register_commands(cli):
    """Add commands to the `tgcheck` click group: @cli.command() or cli.add_command()."""


@hookspec
def tgcheck_register_providers(register):
    """Register providers: register(name, factory), factory(settings) -> Provider."""


@hookspec
def tgcheck_register_task_types(register):
    """Register task types: register(TaskType(name, column, values))."""


@hookspec
def tgcheck_register_readers(register):
    """Register result-file readers: register(reader); the first that accepts a file wins."""


@hookspec
def tgcheck_job_event(event):
    """Observe a JobEvent (submitted, progress, done, failed) of any job."""
