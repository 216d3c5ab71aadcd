"""DuckDB face: SQL functions over the tgcheck engine.

    import duckdb, tgcheck_duckdb
    con = tgcheck_duckdb.register(duckdb.connect())
    con.sql("SELECT * FROM telegram_enrich('customers.csv', 'phone')")

See docs/sql.md. The functions call the engine once per query; the engine
dedupes, reuses stored answers and creates at most one task per number set.

The package imports without DuckDB (its `tgcheck sql` plugin, .commands, says
how to install it); DuckDB is imported when register is first used.
"""

__all__ = ["register"]


def __getattr__(name: str):
    if name == "register":
        from .registration import register

        return register
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
