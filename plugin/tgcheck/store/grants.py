"""The PostgreSQL privileges a check needs, found before the first paid call.

A role that may write jobs but not answers gets a paid create, then "permission
denied" when the answers are stored; every later run pays a status call and a
download and stores nothing. So the store asks the database once, when it is
opened (one query: has_*_privilege), and a check refuses to start without them
(`PostgresStore.require_grants`); `tgcheck doctor` reports them.

What a check uses: the schema; reading, adding and changing rows of `answers`
and `jobs` (no DELETE: only `tgcheck cache clear` deletes); reading
`meta`; the job ids' sequence; and a temporary table per stored batch (COPY goes
through one), which needs TEMPORARY on the database (PUBLIC has it by default).
"""

from __future__ import annotations

# (object kind, name template, privileges) a check needs; {schema} is the store's.
NEEDED = (
    ("TABLE", "{schema}.answers", ("SELECT", "INSERT", "UPDATE")),
    ("TABLE", "{schema}.jobs", ("SELECT", "INSERT", "UPDATE")),
    ("TABLE", "{schema}.meta", ("SELECT",)),
)


def missing_grants(conn, schema: str) -> list[str]:
    """The GRANT statements this connection's role lacks for a check, as an
    administrator would run them (empty: nothing is missing). One round trip."""
    checks: list[tuple[str, str, str, str]] = []  # (privilege, kind, object, SQL test)
    checks.append(("USAGE", "SCHEMA", schema, "has_schema_privilege(%s, 'USAGE')"))
    for kind, template, privileges in NEEDED:
        name = template.format(schema=schema)
        checks += [(p, kind, name, f"has_table_privilege(%s, '{p}')") for p in privileges]
    tests = ", ".join(sql for *_, sql in checks)
    args = [name for _, _, name, _ in checks]
    row = conn.execute(
        "SELECT current_user, current_database(), pg_get_serial_sequence(%s, 'id'), "
        "has_sequence_privilege(pg_get_serial_sequence(%s, 'id'), 'USAGE'), "
        f"has_database_privilege(current_database(), 'TEMPORARY'), {tests}",
        [f"{schema}.jobs", f"{schema}.jobs", *args]).fetchone()
    user, database, sequence, sequence_ok, temporary, *have = row
    if sequence:
        checks.append(("USAGE", "SEQUENCE", sequence, ""))
        have.append(sequence_ok)
    checks.append(("TEMPORARY", "DATABASE", _quoted(database), ""))
    have.append(temporary)
    lacking: dict[tuple[str, str], list[str]] = {}
    for (privilege, kind, name, _), ok in zip(checks, have, strict=True):
        if not ok:
            lacking.setdefault((kind, name), []).append(privilege)
    role = _quoted(user)
    return [f"GRANT {', '.join(privileges)} ON {'' if kind == 'TABLE' else kind + ' '}"
            f"{name} TO {role};" for (kind, name), privileges in lacking.items()]


def _quoted(name: str) -> str:
    """An identifier as SQL needs it written (plain lower-case names as they are)."""
    if name.replace("_", "a").isalnum() and name == name.lower() and not name[:1].isdigit():
        return name
    return '"' + name.replace('"', '""') + '"'
