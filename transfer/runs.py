"""What can be done with recorded runs afterwards: ``status``, ``rollback`` and ``clean``."""

from __future__ import annotations

from collections.abc import Collection
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
    backup_kept: bool = False  # the schema of the tables it replaced is still there

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
                                 _late(r, progress), bool(r.backup_schema) and
                                 state.schema_exists(conn, str(r.backup_schema))))
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


def _forget_reader(r: state.Run) -> str:
    """A live run that will apply no more changes: the source's change log need no longer
    keep them for it. What is left to do, when the source could not be written."""
    from pathlib import Path

    from transfer import capture

    path = Path(str(r.source_identity.get("backup_of") or r.source))
    if not r.options.get("live") or not path.is_file() or capture.forget_quietly(path, r.run_id):
        return ""
    return (f"; {path}'s change log still keeps the changes for run {r.run_id}: "
            f"'sqlite2pg capture forget {path} {r.run_id}' lets them go")


@dataclass
class Relation:
    """A table or view that a command would move or drop."""

    name: str
    kind: str  # pg_class.relkind: r, p (tables), v, m (views)
    rows: int | None  # pg_class.reltuples (an estimate); None: a view, or never analyzed

    def label(self, schema: str) -> str:
        """E.g. ``public.users (about 1,250 rows)``, ``public.active_users (view)``."""
        about = ("view" if self.kind in ("v", "m") else
                 "" if self.rows is None else f"about {_count(self.rows, 'row')}")
        return f"{schema}.{self.name}" + (f" ({about})" if about else "")


@dataclass
class Schema:
    """A schema of sqlite2pg's own (staging, backup or rolled back) and what it holds."""

    name: str
    role: str  # "staging", "backup" or "rolled back"
    run_id: str | None  # the run it belongs to; None when no run record names it
    relations: list[Relation]

    def __str__(self) -> str:
        return f"{self.name} ({self.purpose}: {contents(self.relations)})"

    @property
    def purpose(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run with no record"
        return {"staging": f"the unfinished copy of {run}",
                "backup": f"the tables {run} replaced",
                "rolled back": f"the tables the rollback of {run} set aside"}[self.role]


@dataclass
class RollbackPreview:
    """What ``rollback`` would do now; nothing is done yet."""

    run: state.Run
    aside: str  # the schema the run's tables and views would move into
    moving: list[Relation]  # the run's tables and views in its target schema
    restoring: Schema | None  # the backup schema whose tables would come back

    def __str__(self) -> str:
        back = (f" and bring back the {contents(self.restoring.relations)} it replaced from "
                f"{self.restoring.name}" if self.restoring
                else "; there was nothing before it to bring back")
        return (f"roll back run {self.run.run_id}: move its {contents(self.moving)} from "
                f"{self.run.target_schema} to {self.aside}{back}")


def contents(relations: list[Relation]) -> str:
    """E.g. ``2 tables of about 1,250 rows and 1 view``; ``nothing`` when empty."""
    tables = [r.rows for r in relations if r.kind in ("r", "p")]
    parts = []
    if tables:
        known = [n for n in tables if n is not None]
        about = f" of about {_count(sum(known), 'row')}" if len(known) == len(tables) else ""
        parts.append(_count(len(tables), "table") + about)
    if len(relations) > len(tables):
        parts.append(_count(len(relations) - len(tables), "view"))
    return " and ".join(parts) or "nothing"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def rollback_preview(dsn: str, target_schema: str = "public") -> RollbackPreview:
    """What ``rollback`` would do: the run, what moves aside, what comes back. Reads only."""
    with _connect(dsn) as conn:
        r = _last_switched(conn, target_schema)
        own = {*r.tables, *r.views}
        moving = [x for x in _contents(conn, target_schema) if x.name in own]
        restoring = None
        if r.backup_schema and state.schema_exists(conn, r.backup_schema):
            restoring = Schema(r.backup_schema, "backup", r.run_id,
                               _contents(conn, r.backup_schema))
    return RollbackPreview(r, ROLLED_BACK_PREFIX + r.run_id, moving, restoring)


def _last_switched(conn: Conn, target_schema: str) -> state.Run:
    switched = [r for r in state.runs(conn, target_schema) if r.state == "switched"]
    if not switched:
        raise TargetError(f"no switched run into schema {target_schema!r} to roll back; "
                          "'sqlite2pg status --to ...' lists the runs.")
    return switched[0]


def rollback(dsn: str, target_schema: str = "public", run_id: str | None = None) -> str:
    """Switch back the last switch-over into ``target_schema``, in one transaction (with
    ``run_id``: only if that is still the last one, as a preview showed)."""
    with _connect(dsn) as conn:
        r = _last_switched(conn, target_schema)
        if run_id is not None and r.run_id != run_id:
            raise TargetError(f"the last switched run into {target_schema!r} is now "
                              f"{r.run_id}, not {run_id}; run 'sqlite2pg rollback' again to "
                              "see what it would do.")
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
    kept = _forget_reader(r)
    back = (f"; restored {len(restored)} tables and views from {r.backup_schema}"
            if restored else "; there was nothing before it to restore")
    return (f"rolled back run {r.run_id}: moved its {moved} tables and views from "
            f"{target_schema} to {aside}{back}{kept}.")


@dataclass
class CleanPreview:
    """What ``clean`` would drop, and the backup schemas it would keep; nothing done yet."""

    drop: list[Schema]
    keep: list[Schema]  # backup schemas: dropped only with ``backups``

    @property
    def backups(self) -> list[Schema]:
        """The backup schemas among those to drop (the target's own earlier tables)."""
        return [s for s in self.drop if s.role == "backup"]

    @property
    def asks(self) -> list[Schema]:
        """The schemas among those to drop that may hold the only copy of rows: backups,
        and those a rollback set aside (the application may have written to them after
        the switch, e.g. after a live cutover)."""
        return [s for s in self.drop if s.role in ("backup", "rolled back")]

    def __str__(self) -> str:
        if not self.drop:
            return "drop nothing"
        lost = (f", among them {_count(len(self.backups), 'backup schema')}, whose tables "
                "rollback can then no longer bring back" if self.backups else "")
        aside = [s for s in self.drop if s.role == "rolled back"]
        if aside:
            lost += (f"{', and' if lost else ', among them'} "
                     f"{_count(len(aside), 'schema')} a rollback set aside, with any rows "
                     "the application wrote to PostgreSQL after the switch")
        names = ", ".join(s.name for s in self.drop)
        return f"drop {_count(len(self.drop), 'schema')} ({names}){lost}"


def clean_preview(dsn: str, backups: bool = False) -> CleanPreview:
    """What ``clean`` would drop: staging schemas no running run uses, the schemas rollbacks
    set aside, and with ``backups`` the schemas kept for rollback. Reads only."""
    with _connect(dsn) as conn:
        found = _leftovers(conn, state.runs(conn))
    return CleanPreview([s for s in found if backups or s.role != "backup"],
                        [s for s in found if not backups and s.role == "backup"])


def clean(dsn: str, backups: bool = False, only: Collection[str] | None = None) -> list[str]:
    """Drop leftover staging schemas and the schemas rollbacks set aside (and, with
    ``backups``, the schemas kept for rollback); with ``only``, just those among them (the
    ones a preview showed)."""
    dropped = []
    with _connect(dsn) as conn:
        runs = state.runs(conn)
        doomed = [s.name for s in _leftovers(conn, runs)
                  if (backups or s.role != "backup") and (only is None or s.name in only)]
        for name in doomed:
            target.drop_schema(conn, name)
            dropped.append(name)
        for r in runs:
            if r.staging_schema in doomed and r.state == "loading":
                state.set_state(conn, r.run_id, "failed", "cleaned up before it was resumed")
                _forget_reader(r)
            if backups and r.state == "switched" and r.backup_schema in doomed:
                state.set_state(conn, r.run_id, "switched", "backup dropped: cannot roll back")
            if r.state == "rolled back" and r.rolled_back_schema in doomed:
                state.set_state(conn, r.run_id, "rolled back",
                                f"the tables the rollback set aside in {r.rolled_back_schema} "
                                "were dropped by clean")
    return dropped


_ROLES = {STAGING_PREFIX: "staging", ROLLED_BACK_PREFIX: "rolled back", BACKUP_PREFIX: "backup"}


def _leftovers(conn: Conn, runs: list[state.Run]) -> list[Schema]:
    """sqlite2pg's schemas, but the staging schemas of running runs, with what they hold."""
    running = {r.staging_schema for r in runs if state.is_running(conn, r.run_id)}
    owners: dict[str | None, str] = {}
    for r in reversed(runs):  # (the newest run's, should two name the same schema)
        owners.update({r.staging_schema: r.run_id, r.backup_schema: r.run_id,
                       r.rolled_back_schema: r.run_id})
    return [Schema(name, role, owners.get(name), _contents(conn, name))
            for prefix, role in _ROLES.items() for name in _schemas(conn, prefix)
            if name not in running]


def _connect(dsn: str) -> Conn:
    """A session that creates nothing (the bookkeeping schema is a run's to create)."""
    return target.connect(dsn, autocommit=True)


def _schemas(conn: Conn, prefix: str) -> list[str]:
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) "
                        "ORDER BY 1", (prefix,)).fetchall()
    return [str(r[0]) for r in rows]


def _contents(conn: Conn, schema: str) -> list[Relation]:
    rows = conn.execute(
        "SELECT c.relname, c.relkind, c.reltuples FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') "
        "ORDER BY 1", (schema,)).fetchall()
    return [Relation(str(r[0]), str(r[1]), round(r[2]) if r[1] in ("r", "p") and r[2] >= 0
                     else None) for r in rows]


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
