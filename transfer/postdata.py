"""Stage 5, post-data: keys, indexes, checks, identities, foreign keys and views, after
the rows are in (building an index once is faster than maintaining it per row).

Primary keys, unique constraints and indexes are built on ``jobs`` connections at once;
foreign keys need the parents' keys, so they follow; views come last; then ANALYZE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql

from transfer import ddl, target
from transfer.errors import TargetError
from transfer.plan import Plan

PARALLEL_PHASES = ("primary key", "unique", "index")


def _execute(dsn: str, schema: str, statements: list[ddl.Statement]) -> None:
    with target.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, pg_catalog").format(sql.Identifier(schema)))
        conn.execute("SET maintenance_work_mem TO '256MB'")
        for st in statements:
            try:
                conn.execute(st.sql.encode())
            except psycopg.Error as e:
                raise TargetError(f"post-data statement failed on table {st.table!r} "
                                  f"({st.phase}): {target.redact(str(e).splitlines()[0])}; "
                                  f"statement: {st.sql[:200]}") from None


def run_post_data(plan: Plan, dsn: str, schema: str, jobs: int,
                  log: Callable[[str], None]) -> dict[str, float]:
    """Execute post-data in ``schema``; returns seconds per phase."""
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
        for f in [pool.submit(_execute, dsn, schema, g) for g in groups]:
            f.result()
    timings["keys and indexes"] = time.perf_counter() - start
    log(f"keys and indexes built ({len(parallel)} statements, "
        f"{timings['keys and indexes']:.2f} s)")
    start = time.perf_counter()
    rest = [s for s in statements if s.phase not in PARALLEL_PHASES]
    fks = [s for s in rest if s.phase == "foreign key"]
    _execute(dsn, schema, [s for s in rest if s.phase in ("check", "identity")])
    _execute(dsn, schema, fks)  # one at a time: each locks its parent table
    _execute(dsn, schema, [s for s in rest if s.phase == "view"])
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
