"""The output-format registry (tgcheck.formats): one entry per format, registered
through tgcheck_register_output_formats, read by the CLI's -o/-f and by
`tgcheck sql -o`. A plugin's format end to end: tests/core/test_hooks.py."""

from __future__ import annotations

import pytest

from tgcheck import formats, hookimpl, plugins
from tgcheck.errors import ConfigError, InputError
from tgcheck.formats import OutputFormat, check_output


def test_each_suffix_chooses_its_format_and_stdout_is_csv():
    for form in formats.FORMATS.values():
        for suffix in form.suffixes:
            assert formats.for_output(f"out{suffix.upper()}", None) is form
    assert formats.for_output(None, None).name == "csv"
    assert formats.for_output("-", None).name == "csv"
    assert formats.for_output("out.csv", "json").name == "json"  # -f wins


def test_an_unknown_extension_lists_every_format():
    with pytest.raises(InputError) as caught:
        formats.for_output("out.docx", None)
    for form in formats.FORMATS.values():
        assert form.help in str(caught.value)


def test_only_text_formats_go_to_stdout():
    for form in formats.FORMATS.values():
        if form.stdout:
            check_output(None, form.name)
        else:
            with pytest.raises(InputError, match="cannot go to stdout"):
                check_output(None, form.name)


def test_both_faces_take_their_formats_from_the_registry():
    from tgcheck.cli import cli

    choices = next(p for p in cli.commands["export"].params if p.name == "out_format")
    assert tuple(choices.type.choices) == formats.names()

    from tgcheck_duckdb.cli import COPY_FORMATS

    assert {f.suffixes[0]: f.duckdb_copy
                            for f in formats.FORMATS.values() if f.duckdb_copy} == COPY_FORMATS
    assert set(COPY_FORMATS) == {".csv", ".json", ".parquet"}


def test_a_format_says_what_its_own_missing_module_needs():
    import pytest

    from tgcheck.errors import ConfigError
    from tgcheck.formats import OutputFormat

    fmt = OutputFormat("arrowipc", (".arrow",), ".arrow", needs="no_such_module_tgcheck",
                       needs_hint="pyarrow: pip install pyarrow")
    with pytest.raises(ConfigError, match="needs pyarrow: pip install pyarrow") as e:
        fmt.check_installed()
    assert "DuckDB" not in str(e.value)


class _Claims:
    """A plugin whose format takes a name or an extension of a built-in one."""

    def __init__(self, fmt):
        self.fmt = fmt

    @hookimpl
    def tgcheck_register_output_formats(self, register):
        register(self.fmt)


@pytest.mark.parametrize("fmt, taken", [
    (OutputFormat("csv", (".csvx",), ".csvx", write_text=lambda *a: 0), "'csv'"),
    (OutputFormat("mycsv", (".tsv",), ".tsv", write_text=lambda *a: 0), "'.tsv'"),
])
def test_a_plugin_cannot_take_a_format_or_extension_already_registered(fmt, taken, tmp_path):
    from click.testing import CliRunner

    from tgcheck.cli import cli

    plugins.pm.register(_Claims(fmt), "test-claims")
    try:
        with pytest.raises(ConfigError, match=f"'test-claims'.*{taken} is the plugin "
                                              "'tgcheck.default_plugins.output_formats'"):
            formats.for_output("out.csv", None)
        # In the CLI: one line, exit 2, before anything is read or sent.
        (tmp_path / "in.txt").write_text("+41798284651\n")
        done = CliRunner().invoke(cli, ["check", str(tmp_path / "in.txt"), "-o",
                                        str(tmp_path / "out.csv"), "--sandbox"])
        assert done.exit_code == 2 and "test-claims" in done.output, done.output
        assert not (tmp_path / "out.csv").exists()
    finally:
        plugins.pm.unregister(name="test-claims")
    assert formats.for_output("out.tsv", None).name == "csv"


@pytest.mark.parametrize("fmt, says", [
    (OutputFormat("two", (".two",), ".two", write_text=lambda *a: 0,
                  write_file=lambda *a: 0), "one writer"),
    (OutputFormat("none", (".none",), ".none"), "one writer"),
    (OutputFormat("upper", (".MD",), ".MD", write_text=lambda *a: 0), "a dot, lower case"),
    ("not a format", "not a tgcheck.plugin.OutputFormat"),
])
def test_a_malformed_plugin_format_is_a_clear_error(fmt, says):
    plugins.pm.register(_Claims(fmt), "test-claims")
    try:
        with pytest.raises(ConfigError, match=says):
            formats.names()
    finally:
        plugins.pm.unregister(name="test-claims")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", " ", "|"])
def test_csv_output_is_what_the_csv_module_writes(delimiter):
    """Batches of plain text are joined without csv.writer: every batch, plain or
    not, comes out byte for byte as csv.writer writes it."""
    import csv
    import io

    from tgcheck.default_plugins.output_formats import CSV_BATCH
    from tgcheck.output_style import OutputStyle

    class Text(str):
        pass

    plain = ("+41798284651", "+41798284651", "yes", "ok", "")
    odd = [("a,b", "x"), ('say "hi"', "x"), ("a\nb", "x"), ("a\rb", "x"), ("a;b", "x"),
           ("a\tb", "x"), ("a b", ""), ("a|b", "x"), ("",), ("x",), (), (None, "x"),
           (7, 1.5), (Text("+41798284651"), "x"), ("", ""), (" lead", "trail ")]
    rows = [plain] * (CSV_BATCH + 5)
    for at, row in enumerate(odd):  # each in a batch of plain rows of its own
        rows += [plain] * (at * 7 % CSV_BATCH) + [row]
        rows += [plain] * (CSV_BATCH - len(rows) % CSV_BATCH)
    rows += [plain] * 10 + [("",)]
    style = OutputStyle(delimiter=delimiter, csv_safe=False)
    got = io.StringIO()
    count = formats.FORMATS["csv"].write_text(got, ["input", "number"], iter(rows), style)
    want = io.StringIO()
    csv.writer(want, delimiter=delimiter, lineterminator="\n").writerows(
        [["input", "number"], *rows])
    assert count == len(rows)
    assert got.getvalue() == want.getvalue()
