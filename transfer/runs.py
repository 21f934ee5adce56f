"""What can be done with recorded runs afterwards: ``status``, ``rollback`` and ``clean``."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from transfer import state, target
from transfer.errors import ConflictError, TargetError
from transfer.settings import BACKUP_PREFIX, ROLLED_BACK_PREFIX, STAGING_PREFIX
from transfer.target import Conn


@dataclass
class RunStatus:
    run: state.Run
    running: bool
    tables_done: int
    rows_copied: int
    verify_pending: bool = False  # switched, and its final verify never finished
    late_changes: int = 0  # a live run's: changes the source got after its cutover

    @property
    def label(self) -> str:
        if self.run.state == "loading":
            return "running" if self.running else "interrupted"
        return self.run.state

    @property
    def hint(self) -> str:
        if self.run.state == "switched":
            return "can be rolled back"
        return ""


def status(dsn: str) -> tuple[list[RunStatus], list[str]]:
    """Recorded runs, newest first, and staging schemas no run accounts for."""
    with _connect(dsn) as conn:
        out = []
        for r in state.runs(conn):
            progress = state.progress(conn, r.run_id)
            tables = [p for k, p in progress.items() if k.startswith("table ")]
            out.append(RunStatus(r, state.is_running(conn, r.run_id),
                                 sum(1 for p in tables if p.done), sum(p.rows for p in tables),
                                 bool(r.options.get("verify")) and "verify" not in progress,
                                 _late(r, progress)))
        known = {s.run.staging_schema for s in out}
        orphans = [n for n in _schemas(conn, STAGING_PREFIX) if n not in known]
    return out, orphans


def _late(r: state.Run, progress: dict[str, state.TableProgress]) -> int:
    """Changes the source's change log got after the run's cutover (nothing is lost
    silently: the application wrote to SQLite after it moved); 0 when it cannot tell."""
    import contextlib
    from pathlib import Path

    from transfer import capture
    from transfer import source as source_mod

    if "cutover" not in progress or not Path(r.source).is_file():
        return 0
    with contextlib.suppress(Exception):
        conn = source_mod.open_source(Path(r.source))
        try:
            if capture.installed(conn):
                row = conn.execute(f"SELECT count(*) FROM {capture.LOG} WHERE seq > ?",
                                   (progress["cutover"].rows,)).fetchone()
                return int(row[0])
        finally:
            conn.close()
    return 0


def rollback(dsn: str, target_schema: str = "public") -> str:
    """Switch back the last switch-over into ``target_schema``, in one transaction."""
    with _connect(dsn) as conn:
        switched = [r for r in state.runs(conn, target_schema) if r.state == "switched"]
        if not switched:
            raise TargetError(f"no switched run into schema {target_schema!r} to roll back; "
                              "'sqlite2pg status --to ...' lists the runs.")
        r = switched[0]
        aside = ROLLED_BACK_PREFIX + r.run_id
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(aside)))
                moved = _move(conn, target_schema, aside, r.tables, r.views)
                restored: list[tuple[str, str]] = []
                if r.backup_schema and state.schema_exists(conn, r.backup_schema):
                    restored = _relations(conn, r.backup_schema)
                    clash = target.existing_relations(conn, target_schema,
                                                      [n for n, _k in restored])
                    if clash:
                        raise ConflictError(
                            f"cannot restore {', '.join(clash)} into {target_schema!r}: the "
                            "names are taken again; rename or drop them and retry.")
                    for name, kind in restored:
                        target.set_schema(conn, r.backup_schema, name, kind, target_schema)
                    target.drop_schema(conn, r.backup_schema)
                state.set_state(conn, r.run_id, "rolled back", None, rolled_back_schema=aside)
        except psycopg.Error as e:
            raise target.describe(e, dsn) from None
    back = (f"; restored {len(restored)} tables and views from {r.backup_schema}"
            if restored else "; there was nothing before it to restore")
    return (f"rolled back run {r.run_id}: moved its {moved} tables and views from "
            f"{target_schema} to {aside}{back}.")


def clean(dsn: str, backups: bool = False) -> list[str]:
    """Drop leftover staging schemas (and, with ``backups``, the schemas kept for rollback)."""
    dropped = []
    with _connect(dsn) as conn:
        runs = state.runs(conn)
        keep = {r.staging_schema for r in runs if state.is_running(conn, r.run_id)}
        doomed = [n for n in _schemas(conn, STAGING_PREFIX) if n not in keep]
        if backups:
            doomed += _schemas(conn, BACKUP_PREFIX) + _schemas(conn, ROLLED_BACK_PREFIX)
        for name in doomed:
            target.drop_schema(conn, name)
            dropped.append(name)
        for r in runs:
            if r.staging_schema in doomed and r.state == "loading":
                state.set_state(conn, r.run_id, "failed", "cleaned up before it was resumed")
            if backups and r.state == "switched" and r.backup_schema in doomed:
                state.set_state(conn, r.run_id, "switched", "backup dropped: cannot roll back")
    return dropped


def _connect(dsn: str) -> Conn:
    """A session that creates nothing (the bookkeeping schema is a run's to create)."""
    return target.connect(dsn, autocommit=True)


def _schemas(conn: Conn, prefix: str) -> list[str]:
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) "
                        "ORDER BY 1", (prefix,)).fetchall()
    return [str(r[0]) for r in rows]


def _relations(conn: Conn, schema: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') "
        "ORDER BY 1", (schema,)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]



def _move(conn: Conn, schema: str, to: str, tables: list[str], views: list[str]) -> int:
    present = dict(_relations(conn, schema))
    n = 0
    for name in [*views, *tables]:
        if name in present:
            target.set_schema(conn, schema, name, present[name], to)
            n += 1
    return n
