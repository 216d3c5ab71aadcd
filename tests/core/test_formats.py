"""The output-format registry (tgcheck.formats): one entry per format, read by the
CLI's -o/-f and by `tgcheck sql -o`."""

from __future__ import annotations

import pytest

from tgcheck import formats
from tgcheck.errors import InputError
from tgcheck.tables import check_output


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
