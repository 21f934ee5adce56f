"""Preflight: what ``run`` checks before it reads a row, so that a wrong target fails in a
second rather than after the profile of the whole source: the connection (address,
password, database), the privileges a run needs, and tables of the same names already in
the target schema. ``sqlite2pg check`` runs it, then the plan's own checks, and writes
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from transfer import catalog as catalog_mod
from transfer import source as source_mod
from transfer import target
from transfer.errors import TargetError
from transfer.model import pg_identifier, selected
from transfer.target import Conn


@dataclass
class Target:
    user: str
    database: str
    server: str  # PostgreSQL's version
    schema_exists: bool


def table_names(source: Path, include: list[str], exclude: list[str]) -> list[str]:
    """The PostgreSQL names of the tables a run would create, from the catalog alone (no
    row read). The plan may rename one that collides with another; it is checked again."""
    conn = source_mod.open_source(source)
    try:
        tables = catalog_mod.read_catalog(conn).tables
    finally:
        conn.close()
    return [pg_identifier(t.name) for t in tables if selected(t.name, include, exclude)]


def check_target(conn: Conn, schema: str, names: list[str], if_exists: str) -> Target:
    """Refuse, in one sentence, a target a run cannot complete in: no CREATE on the
    database (a run creates its staging schema), no CREATE on an existing target schema
    (the switch moves the tables into it), or tables of these names there (unless
    ``if_exists`` is "replace")."""
    row = conn.execute(
        "SELECT current_user, current_database(), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "(SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n "
        " WHERE n.nspname = %s), split_part(current_setting('server_version'), ' ', 1)",
        (schema,)).fetchone()
    assert row is not None
    user, database, create_db, create_schema, version = row
    found = Target(str(user), str(database), str(version), create_schema is not None)
    if not create_db:
        raise TargetError(_refusal(user, "DATABASE", database, "to create the run's staging "
                                   "schema", ""))
    if create_schema is False:
        raise TargetError(_refusal(user, "SCHEMA", schema, "to move the migrated tables into "
                                   "it", ", or --target-schema a schema the role owns"))
    clash = target.existing_relations(conn, schema, names)
    if clash and if_exists != "replace":
        raise target.conflict_error(schema, clash)
    return found


def _refusal(user: str, kind: str, name: str, why: str, other: str) -> str:
    grant = sql.SQL("GRANT CREATE ON {} {} TO {}").format(
        sql.SQL(kind), sql.Identifier(name), sql.Identifier(user)).as_string(None)
    return (f"role {user!r} may not create objects in {kind.lower()} {name!r}, which a run "
            f"needs {why}; have its owner run '{grant};'{other}.")
