"""Stage 5, post-data: keys, indexes, checks, identities, foreign keys and views, after
the rows are in (building an index once is faster than maintaining it per row).

Primary keys, unique constraints and indexes are built on ``jobs`` connections at once;
foreign keys need the parents' keys, so they follow; views come last; then ANALYZE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import psycopg
from psycopg import sql

from transfer import ddl, faults, state, target
from transfer.errors import TargetError
from transfer.plan import Plan

PARALLEL_PHASES = ("primary key", "unique", "index")


def _execute(dsn: str, schema: str, statements: list[ddl.Statement],
             run_id: str | None = None, done: set[str] | None = None) -> None:
    """Each statement in its own transaction, recorded as done in the run's progress."""
    with target.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, pg_catalog").format(sql.Identifier(schema)))
        conn.execute("SET maintenance_work_mem TO '256MB'")
        for st in statements:
            key = state.statement_key(st.sql)
            if done and key in done:
                continue
            try:
                with conn.transaction():
                    conn.execute(st.sql.encode())
                    if run_id is not None:
                        state.mark_done(conn, run_id, key)
            except psycopg.Error as e:
                raise TargetError(f"post-data statement failed on table {st.table!r} "
                                  f"({st.phase}): {target.redact(str(e).splitlines()[0])}; "
                                  f"statement: {st.sql[:200]}") from None


def run_post_data(plan: Plan, dsn: str, schema: str, jobs: int,
                  log: Callable[[str], None], run_id: str | None = None,
                  done: set[str] | None = None) -> dict[str, float]:
    """Execute post-data in ``schema``, skipping statements recorded in ``done``; returns
    seconds per phase."""
    ex: Callable[[list[ddl.Statement]], None] = partial(_execute, dsn, schema, run_id=run_id,
                                                        done=done)
    statements = ddl.post_data(plan)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    parallel = [s for s in statements if s.phase in PARALLEL_PHASES]
    # One table's keys and indexes on one connection, tables spread over the jobs.
    by_table: dict[str | None, list[ddl.Statement]] = {}
    for s in parallel:
        by_table.setdefault(s.table, []).append(s)
    groups = sorted(by_table.values(), key=len, reverse=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for f in [pool.submit(ex, g) for g in groups]:
            f.result()
    faults.pause("post-data")
    timings["keys and indexes"] = time.perf_counter() - start
    log(f"keys and indexes built ({len(parallel)} statements, "
        f"{timings['keys and indexes']:.2f} s)")
    start = time.perf_counter()
    rest = [s for s in statements if s.phase not in PARALLEL_PHASES]
    fks = [s for s in rest if s.phase == "foreign key"]
    ex([s for s in rest if s.phase in ("check", "identity")])
    ex(fks)  # one at a time: each locks its parent table
    ex([s for s in rest if s.phase == "view"])
    timings["constraints"] = time.perf_counter() - start
    log(f"checks, identities, foreign keys and views ({len(rest)} statements, "
        f"{timings['constraints']:.2f} s)")
    start = time.perf_counter()
    with target.connect(dsn, autocommit=True) as conn:
        for t in plan.tables:
            conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema),
                                                         sql.Identifier(t.pg_name)))
    timings["analyze"] = time.perf_counter() - start
    return timings
