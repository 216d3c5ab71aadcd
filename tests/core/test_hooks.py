"""Every hook, exercised through the plugin manager, plus a guard that keeps it so."""

import ast
from pathlib import Path

import pytest

import tgcheck
from conftest import numbers
from tgcheck import hookimpl, hookspecs, plugins
from tgcheck.errors import ConfigError
from tgcheck.models import JobEvent, TaskType
from tgcheck.plugin_settings import Setting
from tgcheck.sandbox.embedded import embedded_sandbox, sandbox_settings


def test_every_hookspec_has_a_test_of_its_own():
    """Datasette's rule: a new hook fails this test until test_hook_<name> exists."""
    specs = {name for name in dir(hookspecs) if name.startswith("tgcheck_")}
    tree = ast.parse(Path(__file__).read_text())
    tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    missing = {s for s in specs if f"test_hook_{s}" not in tests}
    assert specs and not missing, f"hooks without a test: {sorted(missing)}"


def test_plugin_manager_checks_pending_at_start():
    # A misspelled hookimpl would have raised at import; the built-ins are all there.
    plugins.pm.check_pending()
    names = {plugins.pm.get_name(p) for p in plugins.pm.get_plugins()}
    assert set(plugins.DEFAULT_PLUGINS) <= names


def _installed_plugin(tmp_path, hook_name: str) -> dict:
    """A third-party package declaring a `tgcheck` entry point, installed on
    PYTHONPATH: the environment of a fresh process that will find it."""
    import os

    (tmp_path / "tgx_plugin.py").write_text(
        "from tgcheck import hookimpl, TaskType\n"
        "@hookimpl\n"
        f"def {hook_name}(register):\n"
        "    register(TaskType('tgx', 'tgx', frozenset({'yes', 'no'})))\n")
    info = tmp_path / "tgx_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tgx-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tgcheck]\ntgx = tgx_plugin\n")
    env = {k: v for k, v in os.environ.items() if k != "TGCHECK_LOAD_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return env


def test_installed_plugins_load_from_their_entry_point(tmp_path):
    import subprocess
    import sys

    env = _installed_plugin(tmp_path, "tgcheck_register_task_types")
    result = subprocess.run(
        [sys.executable, "-c", "from tgcheck import plugins; "
         "print(plugins.get_task_type('tgx').column)"],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tgx"


def test_a_misspelled_hook_in_an_installed_plugin_fails_at_start(tmp_path):
    import subprocess
    import sys

    env = _installed_plugin(tmp_path, "tgcheck_register_tasktypes")  # typo
    result = subprocess.run([sys.executable, "-m", "tgcheck", "plugins"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "tgcheck_register_tasktypes" in result.stderr
    assert "tgx_plugin" in result.stderr and "Traceback" not in result.stderr


class _Plugin:
    """A third-party plugin, registered the way an entry point would be."""

    def __init__(self):
        self.events = []

    @hookimpl
    def tgcheck_register_providers(self, register):
        register("echo", lambda settings: "echo-provider")

    @hookimpl
    def tgcheck_register_task_types(self, register):
        register(TaskType("amazon", "amazon", frozenset({"yes", "no"})))

    @hookimpl
    def tgcheck_register_readers(self, register):
        register(_PipeReader())

    @hookimpl
    def tgcheck_job_event(self, event):
        self.events.append(event)


class _PipeReader:
    name = "pipe"

    def accepts(self, data):
        return data.startswith(b"NUMBER|")

    def read(self, data, task_type):
        rows = [line.split("|") for line in data.decode().splitlines()[1:]]
        return {n: task_type.clean(v) for n, v in rows}


def _with_plugin(fn):
    plugin = _Plugin()
    plugins.pm.register(plugin, "test-plugin")
    try:
        return fn(plugin)
    finally:
        plugins.pm.unregister(name="test-plugin")


def test_hook_tgcheck_register_commands():
    """A plugin's command joins `tgcheck` (in --help too); a built-in one cannot be
    replaced by a plugin's of the same name."""
    import click
    from click.testing import CliRunner

    from tgcheck.cli import cli

    class Commands:
        @hookimpl
        def tgcheck_register_commands(self, cli):
            @cli.command("hello")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

            @cli.command("check")
            def check():
                click.echo("not the real check")

    plugins.pm.register(Commands(), "test-commands")
    cli._plugins_asked = False  # the group asks the plugins once per process
    try:
        result = CliRunner().invoke(cli, ["hello"])
        assert result.exit_code == 0 and result.output == "hello from a plugin\n"
        assert "hello" in CliRunner().invoke(cli, ["--help"]).output
        real = CliRunner().invoke(cli, ["check", "--help"])
        assert "Check the numbers in INPUT" in real.output
    finally:
        plugins.pm.unregister(name="test-commands")
        cli.commands.pop("hello", None)
        del cli._plugins_asked


class _MarkdownFormat:
    """A plugin's output format: a Markdown table, one line a row."""

    @staticmethod
    def write(stream, header, rows, style):
        count = 0
        stream.write("| " + " | ".join(header) + " |\n")
        for row in rows:
            stream.write("| " + " | ".join("" if c is None else str(c) for c in row) + " |\n")
            count += 1
        return count

    @hookimpl
    def tgcheck_register_output_formats(self, register):
        from tgcheck.plugin import OutputFormat

        register(OutputFormat("markdown", (".md", ".markdown"), ".md (Markdown)",
                              write_text=self.write))


def test_hook_tgcheck_register_output_formats(sandbox, sandbox_env, tmp_path):
    """A plugin's format is written by `tgcheck check -o file.EXT`, chosen by -f,
    and listed in --help; the built-in four come through the same hook."""
    from click.testing import CliRunner

    from tgcheck import formats
    from tgcheck.cli import cli

    assert list(formats.FORMATS) == ["csv", "xlsx", "json", "parquet"]
    nums = numbers(2)
    (tmp_path / "in.txt").write_text("\n".join(nums) + "\n")
    plugins.pm.register(_MarkdownFormat(), "test-markdown")
    try:
        assert list(formats.FORMATS) == ["csv", "xlsx", "json", "parquet", "markdown"]
        out = tmp_path / "answers.md"
        done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "-o", str(out),
                                        "--progress", "none"])
        assert done.exit_code == 0, done.output
        lines = out.read_text().splitlines()
        assert lines[0] == "| input | number | telegram | status | reason |"
        assert lines[1:] == [f"| {n} | {n} | {sandbox.expected(n)} | ok |  |" for n in nums]
        assert sandbox.creates == 1
        forced = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "-f", "markdown",
                                          "--progress", "none"])
        assert forced.exit_code == 0 and forced.output.startswith("| input |"), forced.output
        assert sandbox.creates == 1  # the second run's answers were stored
        help_text = CliRunner().invoke(cli, ["check", "--help"]).output
        assert ".md (Markdown)" in help_text and "markdown]" in help_text
    finally:
        plugins.pm.unregister(name="test-markdown")
    assert "markdown" not in formats.FORMATS


def test_hook_tgcheck_register_providers():
    assert "ekycpro" in plugins.providers()
    factory = _with_plugin(lambda p: plugins.get_provider_factory("echo"))
    assert factory(None) == "echo-provider"
    assert "echo" not in plugins.providers()


def test_hook_tgcheck_register_task_types():
    assert plugins.get_task_type("tg").column == "telegram"
    assert _with_plugin(lambda p: plugins.get_task_type("amazon")).column == "amazon"


def test_hook_tgcheck_register_readers():
    builtin = [r.name for r in plugins.readers()]
    assert builtin == ["xlsx", "zip", "csv"]

    def read(_):
        data = b"NUMBER|telegram\n+41798284651|Yes\n"
        reader = next(r for r in plugins.readers() if r.accepts(data))
        return reader.name, reader.read(data, plugins.get_task_type("tg"))

    # A third-party reader is asked before the built-ins (the CSV one would also accept).
    assert _with_plugin(read) == ("pipe", {"+41798284651": "yes"})


class _EchoSettings:
    @hookimpl
    def tgcheck_register_settings(self, register):
        register(Setting("base_url", "TGCHECK_ECHO_URL", "https://api.echo.example",
                         provider="echo"))
        register(Setting("echo_region", "TGCHECK_ECHO_REGION", "eu", provider="echo"))
        register(Setting("echo_rows", "TGCHECK_ECHO_ROWS", 10, parse=int, provider="echo"))


def _registered(plugin, fn):
    plugins.pm.register(plugin, "test-echo")
    try:
        return fn()
    finally:
        plugins.pm.unregister(name="test-echo")


def test_hook_tgcheck_register_settings(monkeypatch):
    def defaults():
        echo = tgcheck.Settings(provider="echo")
        return echo.base_url, echo.option("echo_region"), echo.option("echo_rows")

    assert _registered(_EchoSettings(), defaults) == ("https://api.echo.example", "eu", 10)
    # ekycpro's own default base URL comes from its package the same way.
    assert tgcheck.Settings().base_url == "https://api.ekycpro.com"
    assert tgcheck.Settings().option("echo_region") is None  # another provider's

    monkeypatch.setenv("TGCHECK_ECHO_URL", "https://eu.echo.example")
    monkeypatch.setenv("TGCHECK_ECHO_REGION", "us")
    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "25")
    from_env = _registered(_EchoSettings(), lambda: tgcheck.Settings.from_env(provider="echo"))
    assert (from_env.base_url, from_env.option("echo_region"),
            from_env.option("echo_rows")) == ("https://eu.echo.example", "us", 25)
    # Settings(...) keywords still win over the environment.
    given = _registered(_EchoSettings(), lambda: tgcheck.Settings.from_env(
        provider="echo", base_url="https://other.echo.example"))
    assert given.base_url == "https://other.echo.example"

    monkeypatch.setenv("TGCHECK_ECHO_ROWS", "many")
    with pytest.raises(ConfigError, match="TGCHECK_ECHO_ROWS"):
        _registered(_EchoSettings(), lambda: tgcheck.Settings.from_env(provider="echo"))
    with pytest.raises(ConfigError, match="unknown provider 'nobody'"):
        tgcheck.Settings(provider="nobody")
    with pytest.raises(ConfigError, match="names no default base URL"):
        _with_plugin(lambda p: tgcheck.Settings(provider="echo"))  # echo without settings


class _EchoServer:
    """What the sandbox contract asks of a server (docs/plugins.md), and no more."""

    url, api_key, billed = "http://127.0.0.1:9", "echo-key", {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class _EchoSandbox:
    def __init__(self):
        self.options = []

    @hookimpl
    def tgcheck_register_sandboxes(self, register):
        register("echo", lambda **options: self.options.append(options) or _EchoServer())


def test_hook_tgcheck_register_sandboxes(monkeypatch, tmp_path):
    plugin = _EchoSandbox()
    # The selected provider's sandbox is started, its tasks kept apart under TGCHECK_HOME.
    monkeypatch.setenv("TGCHECK_PROVIDER", "echo")
    assert isinstance(_registered(plugin, lambda: embedded_sandbox(speed=3)), _EchoServer)
    assert plugin.options == [{"state_dir": tmp_path / "home" / "sandbox-tasks" / "echo",
                               "speed": 3}]
    with pytest.raises(ConfigError, match="brings no sandbox"):
        embedded_sandbox()  # the plugin is gone: echo has none now
    monkeypatch.delenv("TGCHECK_PROVIDER")
    # ekycpro's: a real server on loopback, through the same start-up.
    assert "ekycpro" in plugins.sandboxes()
    with embedded_sandbox() as sb:
        settings = sandbox_settings(sb)
        assert (settings.base_url, settings.sandbox) == (sb.url, True)
        engine = tgcheck.Engine(settings)
        try:
            assert engine.check(["+41798284651"])[0].status in ("ok", "unknown")
        finally:
            engine.close()
        assert sb.creates == 1


def test_hook_tgcheck_job_event(settings, sandbox):
    def run(plugin):
        engine = tgcheck.Engine(settings)
        engine.check(["+41798284651", "+41798284652"])
        return [e.kind for e in plugin.events]

    kinds = _with_plugin(run)
    assert kinds[0] == "submitted" and kinds[-1] == "done" and "progress" in kinds
    assert sandbox.creates == 1


def test_plugin_task_type_and_reader_used_end_to_end(settings, sandbox):
    """A plugin's task type reaches the provider; its answers come back by number."""
    sandbox.result_override = None
    tt = TaskType("tg_active", "telegram_days", frozenset({"1", "7", "30", "N/A"}))
    answers = tgcheck.Engine(settings).check(["+41798284651"], task_type=tt.name)
    assert answers[0].value == sandbox.expected("+41798284651", "tg_active")


def test_job_event_is_plain_data():
    e = JobEvent("progress", "k" * 64, "tg", 3, task_id="t", processed=1, total=3)
    assert e.progress["processed"] == 1


def test_without_a_plugin_installed_importlib_metadata_is_not_imported(tmp_path):
    """No installed distribution declares a tgcheck entry point: the folders on
    sys.path say so, and importlib.metadata (about 0.008 s of a run's start) is
    not imported to load none."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TGCHECK_LOAD_PLUGINS"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from tgcheck import plugins; plugins.load(); "
         "print('importlib.metadata' in sys.modules, plugins.get_task_type('tg').name)"],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "tg"]


def test_only_a_tgcheck_section_or_what_cannot_be_read_loads_entry_points(
        tmp_path, monkeypatch):
    import sys

    from tgcheck.plugins import _may_declare

    other = tmp_path / "other"
    (other / "tool-1.0.dist-info").mkdir(parents=True)
    (other / "tool-1.0.dist-info" / "entry_points.txt").write_text(
        "[console_scripts]\ntgcheck = tgcheck.cli:main\n")
    (other / "old.egg-info").write_text("Name: old\n")  # a file: no entry points
    monkeypatch.setattr(sys, "path", ["", str(other), str(tmp_path / "missing")])
    monkeypatch.chdir(tmp_path)
    assert not _may_declare("tgcheck")
    declaring = tmp_path / "declaring"
    (declaring / "Plug-0.1.DIST-INFO").mkdir(parents=True)
    (declaring / "Plug-0.1.DIST-INFO" / "entry_points.txt").write_text(
        "[console_scripts]\nplug = plug:main\n\n[tgcheck]\nplug = plug\n")
    monkeypatch.setattr(sys, "path", [str(other), str(declaring)])
    assert _may_declare("tgcheck")
    egg = tmp_path / "plug-0.1-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[tgcheck]\nplug = plug\n")
    monkeypatch.setattr(sys, "path", [str(other), str(egg)])
    assert _may_declare("tgcheck")
    crlf = tmp_path / "crlf"  # written on Windows: importlib.metadata reads it too
    (crlf / "plug-0.1.dist-info").mkdir(parents=True)
    (crlf / "plug-0.1.dist-info" / "entry_points.txt").write_bytes(
        b"[tgcheck]\r\nplug = plug\r\n")
    monkeypatch.setattr(sys, "path", [str(other), str(crlf)])
    assert _may_declare("tgcheck")
    zipped = tmp_path / "plugins.zip"
    zipped.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    monkeypatch.setattr(sys, "path", [str(other), str(zipped)])
    assert _may_declare("tgcheck")
