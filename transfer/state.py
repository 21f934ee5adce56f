"""Run state kept in the target, so that a crashed run can be resumed and a finished one
rolled back.

Schema ``sqlite2pg`` holds two tables:

* ``runs``: one row per run: source and its snapshot identity, target, staging and backup
  schemas, the plan executed, and the state (``loading``, ``failed``, ``switched``,
  ``rolled back``). A run holds a session advisory lock while it works, so ``status`` can
  tell a running run from an interrupted one, and two processes never work on one run.
* ``progress``: what a run has committed: ``pre-data``, each table's copied rows up to a
  position (one row per table, updated in the same transaction as each chunk's COPY: the
  last rowid, and for a table read in tenant order the last tenant key too, as an SQLite
  literal), each post-data statement. Resuming skips what is recorded here and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from transfer.target import Conn

SCHEMA = "sqlite2pg"
LOCK_CLASS = 0x5132  # first key of the advisory locks runs hold

# One statement each (sessions take one statement at a time); idempotent, so that a
# bookkeeping schema made by an earlier version is brought up to date. (``_current`` tells
# an up-to-date schema by what the last statement adds: keep it in step.)
DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
    run_id text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL,
    source text NOT NULL,
    source_identity jsonb NOT NULL,
    target_schema text NOT NULL,
    staging_schema text NOT NULL,
    backup_schema text,
    rolled_back_schema text,
    tables text[] NOT NULL,
    views text[] NOT NULL,
    plan jsonb NOT NULL,
    message text
)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.progress (
    run_id text NOT NULL REFERENCES {SCHEMA}.runs ON DELETE CASCADE,
    item text NOT NULL,
    rows bigint NOT NULL DEFAULT 0,
    last_rowid bigint,
    done boolean NOT NULL DEFAULT false,
    last_key text,
    PRIMARY KEY (run_id, item)
)""",
    f"ALTER TABLE {SCHEMA}.progress ADD COLUMN IF NOT EXISTS last_key text",
    # the run's options that a resume keeps (--if-exists, verify, --on-error reject's dir)
    f"ALTER TABLE {SCHEMA}.runs ADD COLUMN IF NOT EXISTS options jsonb NOT NULL DEFAULT "
    "'{}'",
    # why a post-data statement done was not carried (a view PostgreSQL refused)
    f"ALTER TABLE {SCHEMA}.progress ADD COLUMN IF NOT EXISTS note text",
)


@dataclass
class Run:
    run_id: str
    started_at: datetime
    updated_at: datetime
    state: str
    source: str
    source_identity: dict[str, Any]
    target_schema: str
    staging_schema: str
    backup_schema: str | None
    rolled_back_schema: str | None
    tables: list[str]
    views: list[str]
    plan: dict[str, Any]
    message: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableProgress:
    rows: int = 0
    last_rowid: int | None = None
    done: bool = False
    last_key: str | None = None  # SQLite literal of the last row's tenant key (tenant order)
    note: str | None = None  # a post-data statement not carried: PostgreSQL's reason


def ensure(conn: Conn) -> None:
    """Create or bring up to date the bookkeeping schema (in the caller's transaction: a
    run that is refused creates nothing). Up to date already, it takes no lock (an ALTER
    TABLE would wait for, and then block, another run's progress writes)."""
    if _current(conn):
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
    for statement in DDL:
        conn.execute(statement)


def _current(conn: Conn) -> bool:
    """Whether the bookkeeping schema has what the last of ``DDL`` adds."""
    row = conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                       "AND attname = 'note' AND NOT attisdropped",
                       (f"{SCHEMA}.progress",)).fetchone()
    return bool(row and row[0])


def lock_key(run_id: str) -> tuple[int, int]:
    return LOCK_CLASS, zlib.crc32(run_id.encode()) - 2**31


def try_lock(conn: Conn, run_id: str) -> bool:
    """Take the run's session lock on ``conn``; False when another session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_key(run_id)).fetchone()
    return bool(row and row[0])


def is_running(conn: Conn, run_id: str) -> bool:
    if try_lock(conn, run_id):
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_key(run_id))
        return False
    return True


def create_run(conn: Conn, run_id: str, source: str, identity: dict[str, Any],
               target_schema: str, staging: str, tables: list[str], views: list[str],
               plan_json: str, options: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.runs (run_id, state, source, source_identity, target_schema, "
        "staging_schema, tables, views, plan, options) VALUES (%s, 'loading', %s, %s, %s, %s, "
        "%s, %s, %s, %s)", (run_id, source, Jsonb(identity), target_schema, staging, tables,
                            views, Jsonb(json.loads(plan_json)), Jsonb(options)))


def set_state(conn: Conn, run_id: str, state: str, message: str | None = None,
              only_from: str | None = None, **fields: str | None) -> None:
    """Set a run's state (``only_from``: only if it is in that state now)."""
    sets: list[sql.Composable] = [sql.SQL("state = %s"), sql.SQL("updated_at = now()"),
                                  sql.SQL("message = %s")]
    params: list[Any] = [state, message]
    for k, v in fields.items():
        sets.append(sql.SQL("{} = %s").format(sql.Identifier(k)))
        params.append(v)
    guard = sql.SQL(" AND state = %s" if only_from else "")
    conn.execute(sql.SQL("UPDATE {}.runs SET {} WHERE run_id = %s{}").format(
        sql.Identifier(SCHEMA), sql.SQL(", ").join(sets), guard),
        [*params, run_id, *([only_from] if only_from else [])])


def set_plan(conn: Conn, run_id: str, plan_json: str) -> None:
    """Record a revised plan for a resumed run."""
    conn.execute(f"UPDATE {SCHEMA}.runs SET plan = %s, updated_at = now() WHERE run_id = %s",
                 (Jsonb(json.loads(plan_json)), run_id))


def progress_upsert(run_id: str, item: str, rows: int = 0, last_rowid: int | None = None,
                    done: bool = True, last_key: str | None = None) -> sql.Composed:
    """The statement recording ``item``'s progress (values inlined, so that the copier's
    ADBC cursor can run it, rendered, inside the COPY's transaction)."""
    return sql.SQL(
        "INSERT INTO {}.progress (run_id, item, rows, last_rowid, done, last_key) VALUES ({}, "
        "{}, {}, {}, {}, {}) ON CONFLICT (run_id, item) DO UPDATE SET rows = excluded.rows, "
        "last_rowid = excluded.last_rowid, done = excluded.done, "
        "last_key = excluded.last_key").format(
        sql.Identifier(SCHEMA), *(sql.Literal(v) for v in (run_id, item, rows, last_rowid,
                                                          done, last_key)))


def mark_done(conn: Conn, run_id: str, item: str, rows: int = 0,
              last_rowid: int | None = None, done: bool = True) -> None:
    conn.execute(progress_upsert(run_id, item, rows, last_rowid, done))


def mark_not_carried(conn: Conn, run_id: str, item: str, reason: str) -> None:
    """Post-data statement ``item`` is done without its object: PostgreSQL refused it for
    ``reason`` (a resumed run reports it as this one would have)."""
    with conn.transaction():
        mark_done(conn, run_id, item)
        conn.execute(f"UPDATE {SCHEMA}.progress SET note = %s WHERE run_id = %s AND item = %s",
                     (reason, run_id, item))


def progress(conn: Conn, run_id: str) -> dict[str, TableProgress]:
    # (a bookkeeping schema of an earlier version has no note column)
    rows = conn.execute(f"SELECT item, rows, last_rowid, done, last_key, to_jsonb(p) ->> 'note' "
                        f"FROM {SCHEMA}.progress AS p WHERE run_id = %s", (run_id,)).fetchall()
    return {str(r[0]): TableProgress(int(r[1]), r[2], bool(r[3]), r[4], r[5]) for r in rows}


def statement_key(statement_sql: str) -> str:
    return "post-data " + hashlib.sha256(statement_sql.encode()).hexdigest()[:16]


_COLUMNS = ("run_id, started_at, updated_at, state, source, source_identity, target_schema, "
            "staging_schema, backup_schema, rolled_back_schema, tables, views, plan, message, "
            # (a bookkeeping schema of an earlier version has no options column)
            "coalesce(to_jsonb(runs) -> 'options', '{}')")


def runs(conn: Conn, target_schema: str | None = None) -> list[Run]:
    """Every recorded run (of ``target_schema`` if given), newest first."""
    if not _has_state(conn):
        return []
    where = "WHERE target_schema = %s" if target_schema is not None else ""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM {SCHEMA}.runs AS runs {where} "
                        "ORDER BY started_at DESC, run_id DESC",
                        (target_schema,) if target_schema is not None else ()).fetchall()
    return [Run(*r) for r in rows]


def _has_state(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.runs",)).fetchone()
    return bool(row and row[0])


def schema_exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                       (name,)).fetchone()
    return bool(row and row[0])
