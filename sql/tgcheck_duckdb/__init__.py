"""DuckDB face: SQL functions over the tgcheck engine.

    import duckdb, tgcheck_duckdb
    con = tgcheck_duckdb.register(duckdb.connect())
    con.sql("SELECT * FROM telegram_enrich('customers.csv', 'phone')")

See docs/sql.md. The functions call the engine once per query; the engine
dedupes, reuses stored answers and creates at most one task per number set.
"""

from .register import register

__all__ = ["register"]
