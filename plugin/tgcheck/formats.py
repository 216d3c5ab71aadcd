"""Output formats: one entry per format, for every face that writes a table.

A format says which -o extensions choose it, whether it can go to stdout, which
optional module it needs, how the CLI writes it (rows streamed, never held) and
how DuckDB writes it for `tgcheck sql -o` (COPY options; None: not there).
Formats come from plugins, through tgcheck_register_output_formats: the built-in
four (csv, xlsx, json, parquet) from default_plugins/output_formats.py, exactly
as a plugin's (docs/plugins.md, "An output format").
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from .errors import ConfigError, InputError
from .output_style import OutputStyle

XLSX_MAX_ROWS = 1_048_576
Rows = Iterator[Sequence[object]]


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """One output format.

    write_text(stream, header, rows, style) -> rows written, for a text format
    (a file opened in `encoding(style)`, or stdout); write_file(path, header,
    rows, style) -> rows written, for a binary one (a file only).
    """

    name: str
    suffixes: tuple[str, ...]
    help: str  # as -o's help and errors name it: ".json (JSON lines)"
    write_text: Callable[[TextIO, Sequence[str], Rows, OutputStyle], int] | None = None
    write_file: Callable[[str, Sequence[str], Rows, OutputStyle], int] | None = None
    encoding: Callable[[OutputStyle], str] = lambda style: "utf-8"
    needs: str | None = None  # an optional module the writer imports
    needs_hint: str = ""  # what to install for it: 'DuckDB ... ".[duckdb]" ...'
    duckdb_copy: str | None = None  # COPY ... TO options for the SQL face

    @property
    def stdout(self) -> bool:
        return self.write_text is not None

    def check_installed(self) -> None:
        """ConfigError now, before anything is sent, if the writer's extra is missing."""
        if self.needs is None:
            return
        try:
            __import__(self.needs)
        except ImportError:
            raise ConfigError(f"writing .{self.name} needs {self.needs_hint or self.needs}"
                              ) from None


class _Registered(Mapping):
    """name -> OutputFormat, as the plugins register them: the built-ins first,
    then installed plugins' in the order they were loaded. Asked of the plugin
    manager on use, not at import (the CLI builds its options at import, before
    any plugin is loaded), and again when a plugin is registered or removed."""

    def __init__(self) -> None:
        self._key: tuple = ()
        self._found: dict[str, OutputFormat] = {}

    def _current(self) -> dict[str, OutputFormat]:
        from . import plugins

        impls = plugins.load().hook.tgcheck_register_output_formats.get_hookimpls()
        key = tuple((impl.plugin_name, impl.function) for impl in impls)
        if key != self._key:
            self._found, self._key = _collect(impls), key
        return self._found

    def __getitem__(self, name: str) -> OutputFormat:
        return self._current()[name]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def _collect(impls) -> dict[str, OutputFormat]:
    """Each plugin's formats, in registration order (pluggy lists its hook
    implementations so); a name or extension taken already is the later
    plugin's error: `-o out.csv` always means the format that first claimed it."""
    found: dict[str, OutputFormat] = {}
    owners: dict[str, str] = {}  # a name or an extension -> the plugin that has it
    for impl in impls:
        def register(fmt, plugin=impl.plugin_name):
            if not isinstance(fmt, OutputFormat):
                raise ConfigError(f"the plugin {plugin!r} registers an output format that "
                                  f"is not a tgcheck.plugin.OutputFormat: {fmt!r}")
            if (fmt.write_text is None) == (fmt.write_file is None):
                raise ConfigError(f"the plugin {plugin!r}: the output format {fmt.name!r} "
                                  "needs one writer, write_text or write_file")
            for claim in (fmt.name, *fmt.suffixes):
                if claim in owners:
                    raise ConfigError(f"the plugin {plugin!r} registers the output format "
                                      f"{fmt.name!r}, but {claim!r} is the plugin "
                                      f"{owners[claim]!r}'s already")
            bad = [s for s in fmt.suffixes if not s.startswith(".") or s != s.lower()]
            if not fmt.suffixes or bad:
                raise ConfigError(f"the plugin {plugin!r}: the output format {fmt.name!r} "
                                  "needs extensions like '.csv' (a dot, lower case)")
            owners.update(dict.fromkeys((fmt.name, *fmt.suffixes), plugin))
            found[fmt.name] = fmt

        impl.function(register=register)
    return found


FORMATS: Mapping[str, OutputFormat] = _Registered()


def names() -> tuple[str, ...]:
    return tuple(FORMATS)


def by_suffix(path: str | os.PathLike) -> OutputFormat | None:
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS.values() if suffix in f.suffixes), None)


def listing(formats=None) -> str:
    """".csv, .xlsx, .json (JSON lines) or .parquet", for help and errors."""
    helps = [f.help for f in (formats or FORMATS.values())]
    return ", ".join(helps[:-1]) + " or " + helps[-1] if len(helps) > 1 else helps[0]


def for_output(path: str | None, forced: str | None) -> OutputFormat:
    """-f wins; else -o's extension; CSV on stdout."""
    if forced:
        return FORMATS[forced]
    if path is None or path == "-":
        return FORMATS["csv"]
    found = by_suffix(path)
    if found is None and is_special_file(path):
        return FORMATS["csv"]  # -o /dev/null, a FIFO: written like stdout
    if found is None:
        suffix = Path(path).suffix.lower()
        raise InputError(f"-o {path}: unknown extension {suffix or '(none)'!r}; use "
                         f"{listing()}, or choose with --format")
    return found


def is_special_file(path: str | os.PathLike) -> bool:
    """-o names something that exists and is no regular file or folder (/dev/null,
    /dev/stdout, a FIFO): it is written in place, never replaced by a new file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def too_many_rows() -> InputError:
    # The header takes the sheet's first row.
    return InputError(f"more than {XLSX_MAX_ROWS - 1} rows do not fit in an xlsx sheet; "
                      "write .csv or .parquet")


# -- before writing (tables.write_table, and `check` before any task is paid) --
def check_output(path: str | None, fmt: str, rows: int | None = None, *,
                 folder: bool = False) -> None:
    """Refuse now what write_table would refuse later: `check` calls this before
    any task is created, so that exit 2 still means nothing was sent (or paid).

    rows, when known, is how many data rows will be written; folder: also check
    that the output's folder takes a new file (before a paid call; once paid, a
    write that fails says how to get the answers instead).
    """
    form = FORMATS[fmt]
    if (path is None or path == "-") and not form.stdout:
        raise InputError(f"--format {fmt} cannot go to stdout; give -o FILE.{fmt}")
    if folder and path is not None and path != "-" and not is_special_file(path):
        check_output_path(path)
    form.check_installed()
    if fmt == "xlsx" and rows is not None and rows >= XLSX_MAX_ROWS:
        raise too_many_rows()


def check_output_path(path: str | os.PathLike) -> None:
    """-o's folder exists and takes a new file: found out now, not after the task
    was paid for. A real file is made and removed (permissions, a read-only
    disk, quotas: only trying tells)."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise InputError(f"-o {path}: is a folder; give a file name")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"-o {path}: the folder {folder} {what}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
    except OSError as e:
        raise InputError(f"-o {path}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)
