"""`tgcheck plugins` and `tgcheck config` (show, set-key, remove-key, path)."""

from __future__ import annotations

import json
import sys

import click

from .. import (
    config_file,
    redact,
    settings_registry,
)
from ..command_errors import handle_errors
from ..settings import shown_settings
from .app import cli, plugin_manager
from .options import (
    make_settings,
)
from .store import store_lines


# -- plugins and config ------------------------------------------------------------
@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="As a JSON list.")
@handle_errors
def plugins_command(as_json):
    """List the installed plugins, their versions and the hooks each implements.

    \b
    Examples:
      tgcheck plugins
      tgcheck plugins --json
    """
    import importlib.metadata

    pm = plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    found = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: str(p[0])):
        dist = dists.get(id(plugin))
        if dist is not None:
            package, version = dist.project_name, dist.version
        else:  # built in: registered like a third-party plugin, shipped with tgcheck
            package, version = "tgcheck", importlib.metadata.version("tgcheck")
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        found.append({"name": str(name), "package": package, "version": version,
                      "hooks": hooks})
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for p in found:
        click.echo(f"{p['name']}  ({p['package']} {p['version']})")
        for hook in p["hooks"]:
            click.echo(f"    {hook}")


@cli.group(invoke_without_command=True)
@click.pass_context
def config(ctx):
    """Show where the store is, which key source is used (never the key), the base URL.

    \b
    Examples:
      tgcheck config
      tgcheck config set-key              # prompts, hidden
      pass show ekycpro | tgcheck config set-key
      tgcheck config remove-key
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_show)


@config.command("show")
@handle_errors
def config_show():
    """Show the settings in use (the default of `tgcheck config`).

    \b
    Example:
      tgcheck config show
    """
    # Without the key: the "API key" line reports a key file it cannot use.
    settings = make_settings(key=False)
    sandbox_settings = make_settings(sandbox_store=True, key=False)
    path = config_file.config_path()
    lines = {
        "base URL": redact.url_without_userinfo(settings.base_url)
        + (" (simulated: a sandbox)" if settings.simulated else ""),
        "API key": config_file.key_source(),
        "config file": f"{path}" + ("" if path.exists() else " (not written)"),
        **store_lines(settings, sandbox_settings),
        "provider": settings.provider,
        "max age": f"{settings.max_age_days:g} days",
        "timeout": f"{settings.timeout:g} s",
        "poll": f"{settings.poll_min:g}..{settings.poll_max:g} s",
    }
    width = max(map(len, lines))
    for key, value in lines.items():
        click.echo(f"{key + ':':<{width + 1}} {value}")
    # Every setting of the one table (tgcheck.settings_registry), with its source.
    rows = shown_settings(settings)
    width = max(len(variable) for variable, _, _ in rows)
    click.echo("settings:")
    for variable, value, source in rows:
        click.echo(f"  {variable:<{width}} {value}  ({source})")


@config.command("set-key")
@handle_errors
def config_set_key():
    """Store the API key in the config file (mode 0600), from a hidden prompt or stdin.

    The key is never taken from the command line (shell history, ps).
    TGCHECK_API_KEY, when set, still wins over the file.

    \b
    Examples:
      tgcheck config set-key
      printf '%s' "$KEY" | tgcheck config set-key
    """
    if sys.stdin.isatty():
        name = make_settings(key=False).provider
        key = click.prompt(f"{name} API key", hide_input=True, err=True)
    else:
        key = sys.stdin.readline()
    path = config_file.set_key(key)
    click.echo(f"tgcheck: key saved to {path} (readable by you only)", err=True)
    if settings_registry.is_set("api_key"):
        click.echo("tgcheck: note: TGCHECK_API_KEY is set and wins over the file", err=True)


@config.command("remove-key")
@handle_errors
def config_remove_key():
    """Remove the API key from the config file.

    \b
    Example:
      tgcheck config remove-key
    """
    if config_file.remove_key():
        click.echo(f"tgcheck: key removed from {config_file.config_path()}", err=True)
    else:
        click.echo("tgcheck: the config file holds no key", err=True)


@config.command("path")
@handle_errors
def config_path_command():
    """Print the config file's path.

    \b
    Example:
      tgcheck config path
    """
    click.echo(str(config_file.config_path()))
