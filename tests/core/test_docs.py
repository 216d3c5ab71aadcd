"""Every public piece a user or a plugin author builds on is documented where they
look: each hook and each member of the Provider contract in docs/plugins.md, each
name `tgcheck` exports in the README or docs/, each Settings field (and method) a
provider may read in the README's settings table or docs/plugins.md.

A name counts as documented when it opens a code span (`name`, `name(...)`,
`tgcheck.name`, `@tgcheck.name`, `Provider.name`, `Settings.name`): prose that merely uses the
word, or a code span that mentions it in passing, does not count.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import pytest

from paths import ROOT
from tgcheck import hookspecs
from tgcheck.models import TaskStatus
from tgcheck.provider import CallContext, Provider, SyncCheck, SyncReply
from tgcheck.settings import Settings
from tgcheck.wire import Wire

README = ROOT / "README.md"
PLUGINS = ROOT / "docs" / "plugins.md"


def _text(*paths) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def code_spans(text: str) -> list[str]:
    """The contents of every `inline` code span and ``` block line of a page."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return inline + [line.strip() for block in blocks for line in block.splitlines()]


def documented(name: str, text: str, owners: tuple[str, ...] = ()) -> bool:
    """Whether a code span of text opens with name, bare or after one of owners."""
    prefix = "|".join(re.escape(f"{o}.") for o in owners)
    # "@" for a decorator: `@tgcheck.hookimpl`.
    pattern = re.compile(rf"^@?(?:{prefix})?{re.escape(name)}\b" if prefix
                         else rf"^@?{re.escape(name)}\b")
    return any(pattern.match(span) for span in code_spans(text))


def settings_table(readme: str) -> str:
    """The README's settings table (its rows, under the `### Settings` heading)."""
    section = readme.split("### Settings", 1)[1].split("\n#", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def exported(module_name: str) -> list[str]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return []
    return list(getattr(module, "__all__", ()))


HOOKS = sorted(name for name, f in vars(hookspecs).items()
               if inspect.isfunction(f) and name.startswith("tgcheck_"))
PUBLIC_NAMES = sorted({("tgcheck", n) for n in exported("tgcheck")}
                      | {("tgcheck.plugin", n) for n in exported("tgcheck.plugin")})
PROVIDER_MEMBERS = sorted(name for name in vars(Provider) if not name.startswith("_"))


def _members(cls, *, methods_only: bool = False) -> list[str]:
    """A class's public members: its dataclass fields, class attributes, methods and
    properties (methods_only: methods alone, for a class whose attributes are its
    own, such as Wire's clients)."""
    names = set() if methods_only or not dataclasses.is_dataclass(cls) else {
        f.name for f in dataclasses.fields(cls)}
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        method = isinstance(member, classmethod | staticmethod | property) \
            or inspect.isfunction(member)
        if method or not methods_only:
            names.add(name)
    return sorted(names)


# The rest of the contract a provider is handed or builds: owner -> its members.
CONTRACT_MEMBERS = sorted(
    (cls.__name__, name)
    for cls, kwargs in ((CallContext, {}), (SyncCheck, {}), (SyncReply, {}), (TaskStatus, {}),
                        (Wire, {"methods_only": True}))
    for name in _members(cls, **kwargs))
# Its fields, and what a provider calls on it (option(), require_key(), properties);
# from_env() is how a face builds one, not something a provider reads.
SETTINGS_FIELDS = sorted({f.name for f in dataclasses.fields(Settings)}
                         | {name for name, member in vars(Settings).items()
                            if not name.startswith("_")
                            and (inspect.isfunction(member) or isinstance(member, property))})


def test_the_lists_checked_are_not_empty():
    # A refactor that moved a list elsewhere must not turn the checks below into nothing.
    assert len(HOOKS) >= 7 and "tgcheck_job_event" in HOOKS
    assert ("tgcheck", "Engine") in PUBLIC_NAMES and len(PUBLIC_NAMES) >= 20
    assert {"create_task", "get_status", "download", "identity"} <= set(PROVIDER_MEMBERS)
    assert {("CallContext", "mark_sent"), ("SyncCheck", "check"), ("SyncReply", "id"),
            ("TaskStatus", "result_url"), ("Wire", "query")} <= set(CONTRACT_MEMBERS)
    assert {"api_key", "base_url", "http_timeout", "option"} <= set(SETTINGS_FIELDS)


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_is_in_the_plugins_page(hook):
    assert documented(hook, _text(PLUGINS)), f"docs/plugins.md does not document {hook}"


def test_the_plugins_page_names_no_hook_that_does_not_exist():
    named = set(re.findall(r"`(tgcheck_[a-z_]+)\(", _text(PLUGINS)))
    assert named <= set(HOOKS), f"docs/plugins.md names unknown hooks: {named - set(HOOKS)}"


@pytest.mark.parametrize("module, name", PUBLIC_NAMES, ids=[".".join(p) for p in PUBLIC_NAMES])
def test_each_public_name_is_documented(module, name):
    docs = _text(README, *sorted((ROOT / "docs").glob("*.md")))
    assert documented(name, docs, owners=(module, "tgcheck")), \
        f"{module}.{name} is exported but neither README.md nor docs/*.md documents it"


@pytest.mark.parametrize("member", PROVIDER_MEMBERS)
def test_each_provider_contract_member_is_in_the_plugins_page(member):
    assert documented(member, _text(PLUGINS), owners=("Provider",)), \
        f"Provider.{member} is part of the contract but docs/plugins.md does not document it"


@pytest.mark.parametrize("owner, member", CONTRACT_MEMBERS,
                         ids=[".".join(p) for p in CONTRACT_MEMBERS])
def test_each_member_of_the_rest_of_the_contract_is_in_the_plugins_page(owner, member):
    """CallContext, SyncCheck, SyncReply, TaskStatus and Wire's methods: what a
    provider is handed or builds is documented as Provider's members are."""
    assert documented(member, _text(PLUGINS), owners=(owner,)), \
        f"{owner}.{member} is part of the contract but docs/plugins.md does not document it"


@pytest.mark.parametrize("field", SETTINGS_FIELDS)
def test_each_settings_field_a_provider_reads_is_documented(field):
    table = settings_table(_text(README))
    env = f"TGCHECK_{field.upper()}"
    in_table = documented(env, table)
    assert in_table or documented(field, _text(PLUGINS), owners=("Settings", "settings")), \
        f"Settings.{field}: not in the README's settings table ({env}) nor in docs/plugins.md"


def test_the_check_itself_catches_what_is_missing():
    # The tests above pass vacuously if documented() accepts anything.
    assert not documented("get_status", "get_status is mentioned in prose only")
    assert not documented("name", "`register(name, factory)`")
    assert documented("name", "a `Provider.name` here", owners=("Provider",))
    assert documented("check", "call `tgcheck.check(numbers)`", owners=("tgcheck",))
    assert not documented("check", "`tgcheck.checker`", owners=("tgcheck",))


# -- the test suite's own commands (README, tests/README.md, pyproject.toml) ------------

def test_the_suite_runs_in_parallel_and_its_slow_marker_is_registered_and_documented():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_config = project["tool"]["pytest"]["ini_options"]
    # The README's plain `python -m pytest` is the parallel run CI makes.
    assert re.search(r"(^|\s)-n\s*\S+", pytest_config["addopts"])
    assert any(d.startswith("pytest-xdist>=") for d in
               project["project"]["optional-dependencies"]["test"])
    assert any(m.startswith("slow:") for m in pytest_config["markers"])
    for page in (README, ROOT / "tests" / "README.md"):
        assert '-m "not slow"' in page.read_text(encoding="utf-8"), page.name
