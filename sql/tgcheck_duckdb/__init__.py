"""DuckDB face: SQL functions over the tgcheck engine."""
