"""Stage 5, post-data: keys, indexes, checks, identities, foreign keys and views, after
the rows are in (building an index once is faster than maintaining it per row).

Every index, those of primary keys and unique constraints included, is a CREATE INDEX,
which several sessions can run on one table at once; ``jobs`` sessions take them largest
table first, and a table's indexes start as soon as its rows are committed, while later
tables are still copying. Keys are then attached to their indexes (ADD CONSTRAINT ...
USING INDEX) and the table is analyzed. Foreign keys need their parents' keys, so they
follow, one at a time (each locks its parent); views come last. Each statement commits
with its record in the run's progress, so a resumed run skips what is done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql

from transfer import ddl, faults, state, target
from transfer.errors import PostDataFailed, TransferError
from transfer.model import Note, Plan, TablePlan


class _Sessions:
    """One connection per worker thread, with the staging schema on its search path."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.local = threading.local()
        self.all: list[target.Conn] = []
        self.lock = threading.Lock()

    def get(self) -> target.Conn:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = target.connect(self.dsn, autocommit=True)
            conn.execute(sql.SQL("SET search_path TO {}, pg_catalog").format(
                sql.Identifier(self.schema)))
            conn.execute("SET maintenance_work_mem TO '256MB'")
            self.local.conn = conn
            with self.lock:
                self.all.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.all:
            conn.close()


class PostData:
    """Post-data of one run: ``table_ready`` as tables finish copying, then ``finish``."""

    def __init__(self, plan: Plan, dsn: str, schema: str, jobs: int,
                 log: Callable[[str], None], run_id: str | None = None,
                 done: dict[str, state.TableProgress] | None = None,
                 on_statement: Callable[[int], None] | None = None) -> None:
        self.plan = plan
        self.on_statement = on_statement or (lambda _n: None)  # statements done so far
        self.executed = 0
        self.schema = schema
        self.run_id = run_id
        self.done = set(done or {})  # items of the run's progress
        # views PostgreSQL refused in an earlier invocation of this run: key -> its reason
        self.refused_before = {k: p.note for k, p in (done or {}).items() if p.note}
        self.log = log
        self.dsn = dsn
        self.skipped: list[Note] = []  # views PostgreSQL refused, not carried
        self.refused: dict[str, str] = {}  # statement key -> PostgreSQL's reason
        self.sessions = _Sessions(dsn, schema)
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="postdata")
        self.coordinators = ThreadPoolExecutor(max_workers=max(1, len(plan.tables)),
                                               thread_name_prefix="postdata-table")
        self.tables: dict[str, Future[None]] = {}
        self.lock = threading.Lock()
        self.start = time.perf_counter()

    # -- statements -------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Statements of the whole post-data (the ANALYZE of each table included)."""
        n = sum(len(ddl.retypes(t)) + sum(len(part) for part in ddl.key_indexes(t)) + 1
                for t in self.plan.tables)
        return n + sum(1 for s in ddl.post_data(self.plan) if s.phase in self.LATER)

    LATER = ("check", "identity", "foreign key", "view")

    def execute(self, st: ddl.Statement) -> None:
        key = state.statement_key(st.sql)
        if key not in self.done:
            conn = self.sessions.get()
            try:
                with conn.transaction():
                    conn.execute(st.sql.encode())
                    if self.run_id is not None:
                        state.mark_done(conn, self.run_id, key)
            except psycopg.Error as e:
                raise self.failure(st, e) from None
        self._count()

    def _count(self) -> None:
        with self.lock:  # (in order: the progress shown never goes back)
            self.executed += 1
            self.on_statement(self.executed)

    def view(self, st: ddl.Statement) -> None:
        """A view PostgreSQL still refuses (a type the translation could not foresee, a view
        it reads that was refused) is not carried, and said so; the run goes on."""
        key = state.statement_key(st.sql)
        try:
            self.execute(st)
        except PostDataFailed:
            reason = self.refused.get(key, "PostgreSQL refused it")
            self._not_carried(st, reason)
            if self.run_id is not None:
                state.mark_not_carried(self.sessions.get(), self.run_id, key, reason)
                self.done.add(key)
            self._count()
            return
        if key in self.refused_before:  # (refused by an earlier invocation of this run)
            self._not_carried(st, self.refused_before[key])

    def _not_carried(self, st: ddl.Statement, reason: str) -> None:
        self.skipped.append(Note(st.name or "?", None, f"view is not carried over: "
                                 f"PostgreSQL refused it ({reason})", kind="not carried"))
        self.log(f"view {st.name} is not carried over: PostgreSQL refused it ({reason})")

    def failure(self, st: ddl.Statement, e: psycopg.Error) -> TransferError:
        """A timeout or a lost connection as such; any other failure names the statement and
        PostgreSQL's detail (the rows: a duplicated key, a row failing a check, a missing
        parent). Either way the copied rows stay in staging for a resume."""
        problem = target.describe(e, self.dsn, f"{st.phase} on {st.table or 'a view'}")
        if isinstance(problem, target.ServerTimeout | target.ConnectionLost):
            return problem
        first = target.redact(str(e).strip().splitlines()[0]) if str(e).strip() else ""
        self.refused[state.statement_key(st.sql)] = first
        detail = getattr(getattr(e, "diag", None), "message_detail", None)
        what = f"table {st.table!r}" if st.table else "a view"
        return PostDataFailed(
            f"post-data failed on {what} ({st.phase}): {first}"
            + (f" ({target.redact(detail)})" if detail else "")
            + f"; statement: {target.redact(st.sql[:300])}. The copied rows are kept in "
            f"staging: fix the plan (sqlite2pg plan -o FILE, then edit or drop this "
            f"{st.phase}) and continue with 'sqlite2pg run ... --resume --plan FILE'.")

    def _table(self, t: TablePlan) -> None:
        """Coordinates one table (on a thread of its own, running no statement itself):
        its indexes on all sessions at once, then its keys and statistics."""
        for st in ddl.retypes(t):  # (columns loaded as text take their type first)
            self.pool.submit(self.execute, st).result()
        builds, attach = ddl.key_indexes(t)
        for f in [self.pool.submit(self.execute, st) for st in builds]:
            f.result()
        self.pool.submit(self._attach, t, attach).result()

    def _attach(self, t: TablePlan, attach: list[ddl.Statement]) -> None:
        for st in attach:
            self.execute(st)
        self.sessions.get().execute(sql.SQL("ANALYZE {}").format(sql.Identifier(t.pg_name)))
        self._count()

    # -- the run's interface -----------------------------------------------------------
    def table_ready(self, name: str) -> None:
        """The rows of table ``name`` (SQLite name) are committed: start its indexes."""
        t = self.plan.table(name)
        with self.lock:  # (called by the copier's writer threads)
            if t.pg_name not in self.tables:
                self.tables[t.pg_name] = self.coordinators.submit(self._table, t)

    def finish(self) -> None:
        """Wait for the keys and indexes, then checks, identities, foreign keys, views."""
        try:
            for t in sorted(self.plan.tables, key=lambda t: -t.rows):
                self.table_ready(t.name)
            for f in list(self.tables.values()):
                f.result()
            self.log(f"keys, indexes and statistics ({time.perf_counter() - self.start:.2f} s)")
            faults.pause("post-data")
            start = time.perf_counter()
            rest = [s for s in ddl.post_data(self.plan) if s.phase in self.LATER]
            for phase in self.LATER:
                for st in rest:
                    if st.phase == phase == "view":
                        self.view(st)
                    elif st.phase == phase:
                        self.execute(st)  # one at a time: a foreign key locks its parent
            self.log(f"checks, identities, foreign keys and views ({len(rest)} statements, "
                     f"{time.perf_counter() - start:.2f} s)")
        finally:
            self.close()

    def close(self) -> None:
        self.coordinators.shutdown(wait=True, cancel_futures=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.sessions.close()
