"""Hook specifications: the whole plugin surface of tgcheck, one line each."""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("tgcheck")
hookimpl = HookimplMarker("tgcheck")


@hookspec
def tgcheck_register_commands(cli):
    """Add commands to the `tgcheck` click group: @cli.command() or cli.add_command()."""


@hookspec
def tgcheck_register_providers(register):
    """Register providers: register(name, factory, *, settings=(), sandbox=None,
    readers=()), factory(settings) -> Provider (a subclass of tgcheck.plugin.Provider:
    its docstrings are the contract). One call brings all the provider has: its
    Settings (applying while it is selected), its sandbox factory (the contract of
    tgcheck_register_sandboxes, checked at load) and readers of its result files."""


@hookspec
def tgcheck_register_settings(register):
    """Register a plugin's own settings: register(Setting(name, env, default, ...))
    (tgcheck.plugin_settings); read from the environment by Settings.from_env."""


@hookspec
def tgcheck_register_sandboxes(register):
    """Register a provider's sandbox: register(provider_name, factory), where
    factory(state_dir=folder, port=0, **options) -> a local server on 127.0.0.1
    speaking the provider's protocol, its port bound already (.url readable before
    it starts), with .api_key and .billed, started by `with`, keeping its tasks in
    state_dir; checked at load (tgcheck.sandbox_contract); `--sandbox` starts the
    selected provider's, `tgcheck sandbox --provider NAME` serves it."""


@hookspec
def tgcheck_register_task_types(register):
    """Register task types: register(TaskType(name, column, values))."""


@hookspec
def tgcheck_register_readers(register):
    """Register result-file readers for every provider: register(reader). They are
    asked before the provider's own (Provider.readers); the first that accepts wins."""


@hookspec
def tgcheck_register_output_formats(register):
    """Register output formats: register(OutputFormat(name, suffixes, help, write_text=
    or write_file=, ...)) (tgcheck.plugin.OutputFormat); `-o FILE.EXT` chooses one by
    its extension, `-f NAME` by its name. A name or extension taken is an error."""


@hookspec
def tgcheck_job_event(event):
    """Observe a JobEvent (submitted, progress, done, failed) of any job."""
