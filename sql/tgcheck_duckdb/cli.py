"""`tgcheck sql`: DuckDB with the tgcheck functions, for one query or a simple REPL.

The main CLI adds it through the tgcheck_register_commands hook (.commands).
Its errors end like every command's (tgcheck.command_errors): one line, exit 2
for bad usage or settings (no API key among them), 1 for a failed query, 130
after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import tempfile
from pathlib import Path

import click
import duckdb

import tgcheck
from tgcheck import errors, formats
from tgcheck.command_errors import handle_errors
from tgcheck.simulated import simulated_settings

from . import csv_cells, waiting
from .registration import register

# -o FILE: the format follows the extension (tgcheck.formats); DuckDB's COPY writes it.
SQL_FORMATS = [f for f in formats.FORMATS.values() if f.duckdb_copy]
COPY_FORMATS = {f.suffixes[0]: f.duckdb_copy for f in SQL_FORMATS}
PROMPT, CONTINUE = "tgcheck> ", "     ...> "
# No key: here --sandbox is the way to try without one.
NO_KEY_SQL = ("no API key: set TGCHECK_API_KEY or run `tgcheck config set-key`, or try it "
              "without a key: `tgcheck sql --sandbox \"...\"` (simulated answers)")
# DuckDB keeps of a UDF's exception only its class name and text.
_UDF_ERROR = re.compile(r"Python exception occurred while executing the UDF: (\w+): ")


@click.command("sql")
@click.argument("query", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help=f"Write the result to FILE ({', '.join(COPY_FORMATS)}) instead of stdout.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--raw-csv", is_flag=True,
              help="CSV output (--csv, -o FILE.csv): write cells as they are. Default: a text "
                   "cell Excel would run as a formula gets a leading '.")
@click.option("-d", "--database", default=":memory:", show_default=True,
              help="DuckDB database file to open.")
@click.option("--sandbox", is_flag=True,
              help="Run against the built-in sandbox: SIMULATED answers, no key, no cost.")
@click.option("--task-type", default="tg", show_default=True,
              help="Task type to check (a query's task_type := overrides it).")
@click.option("--provider", metavar="NAME", help="Who checks: ekycpro or an installed provider "
                                                 "plugin (default: TGCHECK_PROVIDER or ekycpro).")
@click.option("--region", help="Region for national numbers (CH, Switzerland, 41); with a "
                                "macro's region_column, for rows whose region is empty.")
@click.option("--bail", is_flag=True,
              help="Statements from stdin: stop at the first that fails, and exit 1 "
                   "(for scripts and cron; without it, errors are shown and it goes on).")
@handle_errors(no_key=NO_KEY_SQL)
def sql_command(query, output, as_csv, database, sandbox, task_type, provider, region,
                bail, raw_csv):
    """Run QUERY in DuckDB with telegram_enrich, telegram_check and tg_normalize.

    \b
      tgcheck sql "SELECT * FROM telegram_enrich('customers.csv', 'phone')"
      tgcheck sql "FROM telegram_check('customers.csv', 'phone')" -o answers.parquet
      tgcheck sql "FROM telegram_enrich('crm.csv', 'phone', region_column := 'country')"

    Without QUERY, reads statements (ended by ';') from stdin.
    """
    if output is not None and output.suffix.lower() not in COPY_FORMATS:
        raise click.UsageError(
            f"-o: unknown extension {output.suffix!r}; use one of {', '.join(COPY_FORMATS)}")
    if output is not None:
        from tgcheck.formats import check_output_path

        try:  # before the query: it may create (and pay for) a task
            check_output_path(output)
        except tgcheck.TgcheckError as e:
            raise click.UsageError(str(e)) from None
    _progress_to_stderr()
    try:
        _sql(query, output, as_csv, database, sandbox, task_type, region, bail, provider,
             csv_safe=not raw_csv)
    except Exception as e:
        if not _interruption(e):
            raise
        _interrupted()
    except KeyboardInterrupt:
        _interrupted()


class QueryFailed(tgcheck.TgcheckError):
    """A statement failed; exit_code is that of tgcheck's error inside it, if any."""


def _query_error(error: BaseException) -> tgcheck.TgcheckError:
    """A query's error as tgcheck's, with the exit code of the tgcheck error a
    UDF raised (DuckDB passes on only its class name): no API key is exit 2 here
    as in every command."""
    if isinstance(error, tgcheck.TgcheckError):
        return error
    found = _UDF_ERROR.search(str(error))
    kind = getattr(errors, found.group(1), None) if found else None
    if isinstance(kind, type) and issubclass(kind, errors.NoApiKey):
        return errors.NoApiKey(str(error))
    failed = QueryFailed(str(error))
    if isinstance(kind, type) and issubclass(kind, tgcheck.TgcheckError):
        failed.exit_code = kind.exit_code
    return failed


def _shown(error: BaseException) -> str:
    """A failed statement's message, as the REPL shows it and goes on."""
    return errors.describe(_query_error(error), no_key=NO_KEY_SQL)


def _interruption(error: BaseException) -> bool:
    """Ctrl-C as DuckDB reports it: its InterruptException, or an error whose text
    says so (the UDF's Cancelled, a RuntimeError from the query's own thread)."""
    interrupt = getattr(duckdb, "InterruptException", ())
    text = str(error)
    return isinstance(error, interrupt) or (
        isinstance(error, (duckdb.Error, RuntimeError, tgcheck.TgcheckError))
        and ("interrupted" in text.lower() or "KeyboardInterrupt" in text))


def _interrupted() -> None:
    # The message docs/sql.md promises; 130 as every tgcheck command after Ctrl-C.
    click.echo(waiting.INTERRUPTED, err=True)
    sys.exit(130)


def _progress_to_stderr() -> None:
    """Off a terminal, the progress records (logger tgcheck.duckdb) as lines on
    stderr: `tgcheck sql` in a script or CI shows that it is waiting, and how far."""
    if sys.stderr.isatty():
        return  # the live line is drawn there instead
    log = logging.getLogger("tgcheck.duckdb")
    if not any(getattr(h, "_tgcheck_sql", False) for h in log.handlers):
        handler = logging.StreamHandler()  # sys.stderr
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        handler._tgcheck_sql = True
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def _sql(query, output, as_csv, database, sandbox, task_type, region, bail,
         provider=None, csv_safe=True) -> None:
    with contextlib.ExitStack() as stack:
        settings = _settings(stack, sandbox, provider)
        con = stack.enter_context(duckdb.connect(database))
        # DuckDB's own bar goes to stdout (it would corrupt --csv) and stalls at
        # 99% while a task runs; the engine's progress line on stderr replaces it.
        con.execute("SET enable_progress_bar = false")
        try:
            register(con, settings, task_type=task_type, region=region)
        except tgcheck.RegionError as e:  # usage: exit 2 with the suggestion
            raise click.BadParameter(str(e), param_hint="--region") from None
        if query is not None:
            try:
                run_sql(con, query, output=output, as_csv=as_csv, csv_safe=csv_safe)
            except (duckdb.Error, tgcheck.TgcheckError) as e:
                if _interruption(e):
                    raise
                raise _query_error(e) from None
        else:
            repl(con, output=output, as_csv=as_csv, bail=bail, csv_safe=csv_safe)


def _settings(stack: contextlib.ExitStack, sandbox: bool,
              provider: str | None = None) -> tgcheck.Settings:
    if not sandbox:
        return tgcheck.Settings.from_env(provider=provider)
    return stack.enter_context(simulated_settings(lambda text: click.echo(text, err=True),
                                                  provider=provider))


# Statements whose result is worth showing; the rest (CREATE, INSERT, SET, ...)
# only answer with a row count, which would clutter the output (and a CSV).
SHOWN = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "CALL", "EXECUTE", "RELATION"})


def run_sql(con: duckdb.DuckDBPyConnection, text: str, *, output: Path | None = None,
            as_csv: bool = False, csv_safe: bool = True) -> None:
    """Run every statement; show (or write) the result of the last one. csv_safe:
    CSV cells Excel would run as a formula get a leading ' (tgcheck.csv_formulas)."""
    statements = [(s.query.strip().rstrip(";").strip(), s.type.name)
                  for s in con.extract_statements(text)]
    statements = [(sql, kind) for sql, kind in statements if sql]
    if not statements:
        return
    for sql, _ in statements[:-1]:
        con.execute(sql)
    last, kind = statements[-1]
    if output is not None:
        options = COPY_FORMATS[output.suffix.lower()]
        if csv_safe and output.suffix.lower() == ".csv":
            csv_cells.write_csv(con, last, str(output))
            click.echo(f"wrote {output}", err=True)
            return
        path = str(output).replace("'", "''")
        con.execute(f"COPY ({last}) TO '{path}' ({options})")
        click.echo(f"wrote {output}", err=True)
        return
    if kind not in SHOWN:
        con.execute(last)
        return
    # Fetch once: printing a lazy relation, then writing it, would run it (and
    # call the UDF) twice.
    table = con.sql(last).to_arrow_table()
    if as_csv and csv_safe:
        table = csv_cells.neutralised_table(table)
    rows = con.from_arrow(table)
    click.echo(_csv(rows) if as_csv else str(rows), nl=not as_csv)


def _csv(rows: duckdb.DuckDBPyRelation) -> str:
    # DuckDB's own writer: quotes only where needed, writes lists as [a, b].
    with tempfile.TemporaryDirectory(prefix="tgcheck-sql-") as folder:
        path = Path(folder) / "out.csv"
        rows.write_csv(str(path), header=True)
        return path.read_text(encoding="utf-8")


def repl(con: duckdb.DuckDBPyConnection, *, output: Path | None, as_csv: bool,
         bail: bool = False, csv_safe: bool = True) -> None:
    """Statements from stdin, each run when a line ends with ';'. Ctrl-D ends.
    bail: the first failing statement ends it, with exit status 1."""
    stdin = sys.stdin
    interactive = stdin.isatty()
    pending: list[str] = []
    while True:
        if interactive:
            click.echo(CONTINUE if pending else PROMPT, nl=False, err=True)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            pending.clear()
            click.echo("", err=True)
            continue
        if not line:
            break
        pending.append(line)
        if not line.rstrip().endswith(";"):
            continue
        text = "".join(pending)
        pending.clear()
        try:
            run_sql(con, text, output=output, as_csv=as_csv, csv_safe=csv_safe)
        except (duckdb.Error, tgcheck.TgcheckError, RuntimeError, KeyboardInterrupt) as e:
            if _interruption(e) or isinstance(e, KeyboardInterrupt):
                if not interactive:
                    raise  # a script: Ctrl-C ends it (exit 130)
                click.echo(waiting.INTERRUPTED, err=True)  # at the prompt: go on
                continue
            if isinstance(e, RuntimeError):
                raise
            click.echo(f"Error: {_shown(e)}", err=True)
            if bail:
                sys.exit(errors.exit_code(_query_error(e)))  # the one rule, as an argument
    if pending and "".join(pending).strip():
        try:
            run_sql(con, "".join(pending), output=output, as_csv=as_csv, csv_safe=csv_safe)
        except (duckdb.Error, tgcheck.TgcheckError) as e:
            click.echo(f"Error: {_shown(e)}", err=True)
            sys.exit(errors.exit_code(_query_error(e)))
