"""The PostgreSQL target: connecting, the staging schema, and the switch-over.

A run loads into a fresh staging schema and moves the finished tables into the target
schema in one transaction at the end, so a failed or interrupted run leaves the target
schema exactly as it was.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from transfer.errors import ConflictError, TargetError
from transfer.settings import BACKUP_PREFIX, STAGING_PREFIX

Conn = psycopg.Connection[Any]  # the one alias of a PostgreSQL connection


def redact(text: str) -> str:
    """Remove passwords from a DSN or a message quoting one."""
    text = re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", r"\1****@", text)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1****", text, flags=re.IGNORECASE)


def describe(e: psycopg.Error, dsn: str) -> TargetError:
    msg = redact(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    where = redact(dsn)
    if isinstance(e, psycopg.OperationalError):
        if "password authentication failed" in msg or "no password supplied" in msg:
            return TargetError(f"cannot log in to {where}: {msg}; check the user and password "
                               "(or .pgpass).")
        if "does not exist" in msg:
            return TargetError(f"cannot connect to {where}: {msg}; create it or fix the DSN.")
        return TargetError(f"cannot connect to {where}: {msg}; check host, port and that the "
                           "server is running.")
    if isinstance(e, psycopg.errors.InsufficientPrivilege):
        return TargetError(f"permission denied on {where}: {msg}; grant CREATE on the database "
                           "and the target schema to this user.")
    return TargetError(f"PostgreSQL error on {where}: {msg}.")


def check_dsn(dsn: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except psycopg.ProgrammingError as e:
        raise TargetError(f"the DSN {redact(dsn)!r} is not valid ({redact(str(e))}); write "
                          "postgresql://user@host:port/dbname or 'host=... dbname=...'.") from None


def connect(dsn: str, autocommit: bool = False) -> Conn:
    check_dsn(dsn)
    try:
        return psycopg.connect(dsn, autocommit=autocommit, application_name="sqlite2pg")
    except psycopg.Error as e:
        raise describe(e, dsn) from None


def adbc_uri(dsn: str) -> str:
    """ADBC's PostgreSQL driver takes a libpq connection string too (keywords form)."""
    params = check_dsn(dsn)
    params.setdefault("application_name", "sqlite2pg")
    return make_conninfo("", **params)


def new_staging_name() -> str:
    return f"{STAGING_PREFIX}{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"


def existing_relations(conn: Conn, schema: str,
                       names: Iterable[str]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY 1",
        (schema, list(names)),
    ).fetchall()
    return [str(r[0]) for r in rows]


def conflict_error(schema: str, names: list[str]) -> ConflictError:
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return ConflictError(f"the target schema {schema!r} already has {shown}; use "
                         "--if-exists replace to swap them out (kept for 'sqlite2pg rollback'), "
                         "--target-schema to load elsewhere, or drop them.")


def create_staging(conn: Conn, staging: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))


def drop_schema(conn: Conn, schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def switch(conn: Conn, staging: str, target: str,
           tables: list[str], views: list[str], replace: bool) -> str | None:
    """Move tables and views from staging into target, in the caller's transaction.

    With ``replace``, same-named tables and views already in the target move to a dated
    backup schema first; its name is returned.
    """
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target)))
    moving = existing_relations(conn, staging, tables + views)
    in_staging = set(moving)
    # Every relation that comes along (indexes, identity sequences) must be free in target.
    all_staged = [str(r[0]) for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s", (staging,)).fetchall()]
    clash = existing_relations(conn, target, all_staged)
    backup = None
    if clash:
        if not replace:
            raise conflict_error(target, clash)
        backup = f"{BACKUP_PREFIX}{time.strftime('%Y%m%d_%H%M%S')}"
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(backup)))
        owners = _owning_tables(conn, target, clash)
        for name, kind in owners:
            set_schema(conn, target, name, kind, backup)
        left = existing_relations(conn, target, all_staged)
        if left:
            raise ConflictError(f"the target schema {target!r} has {', '.join(left)}, which "
                                "are not tables or views of the same names; rename or drop "
                                "them and run again.")
    for name in tables:
        if name in in_staging:  # autovacuum back on (see hold_autovacuum)
            conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(
                sql.Identifier(staging, name)))
    for names, kind in ((tables, "r"), (views, "v")):
        for name in names:
            if name in in_staging:
                set_schema(conn, staging, name, kind, target)
    drop_schema(conn, staging)
    return backup


def hold_autovacuum(conn: Conn, staging: str, tables: list[str]) -> None:
    """No autovacuum on the staging tables until the switch: one would start on a table
    just loaded while its indexes are built (its CPU and I/O taken from them) and hold it
    until the first ALTER TABLE waits out deadlock_timeout to cancel it. The run analyzes
    each table itself; ``switch`` resets the option."""
    for name in tables:
        conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
            sql.Identifier(staging, name)))


def set_schema(conn: Conn, schema: str, name: str,
               kind: str, to: str) -> None:
    """Move a relation of pg_class ``kind`` (table, view, materialized view) to ``to``."""
    stmt = {"v": "ALTER VIEW {}.{} SET SCHEMA {}",
            "m": "ALTER MATERIALIZED VIEW {}.{} SET SCHEMA {}"}.get(
        kind, "ALTER TABLE {}.{} SET SCHEMA {}")
    conn.execute(sql.SQL(stmt).format(sql.Identifier(schema), sql.Identifier(name),
                                      sql.Identifier(to)))


def _owning_tables(conn: Conn, schema: str,
                   names: list[str]) -> list[tuple[str, str]]:
    """The tables and views that clashing relations are or belong to (indexes, sequences)."""
    rows = conn.execute(
        """
        SELECT DISTINCT coalesce(t.relname, c.relname), coalesce(t.relkind, c.relkind)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_index i ON i.indexrelid = c.oid
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype IN ('a', 'i')
             AND d.classid = 'pg_class'::regclass AND c.relkind = 'S'
        LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, d.refobjid)
        WHERE n.nspname = %s AND c.relname = ANY(%s)
        """, (schema, names)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows if r[1] in ("r", "v", "p")]
