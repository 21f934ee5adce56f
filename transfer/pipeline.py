"""The orchestrator of ``run``: it reads like the step list.

    STEP 1  plan (computed afresh, or the reviewed plan file)
    STEP 2  check the target: connect, refuse same-named tables unless --if-exists replace
    STEP 3  create the staging schema and the tables (pre-data)
    STEP 4  copy the rows (one SQLite snapshot -> Arrow batches -> binary COPY)
    STEP 5  keys, indexes, checks, identities, foreign keys, views, ANALYZE (post-data)
    STEP 6  switch the staging tables into the target schema, in one transaction
    STEP 7  verify: row counts and content checksums, source against target
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from psycopg import sql

from transfer import copier, ddl, postdata, target, verify
from transfer import plan as plan_mod
from transfer.errors import BlockersFound, TargetError
from transfer.plan import Plan
from transfer.settings import BATCH_ROWS, JOBS


@dataclass
class RunOptions:
    dsn: str
    target_schema: str = "public"
    if_exists: str = "fail"  # or "replace"
    jobs: int = JOBS
    batch_rows: int = BATCH_ROWS
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    schema_only: bool = False
    data_only: bool = False
    verify: bool = True


@dataclass
class RunResult:
    tables: list[copier.TableResult]
    steps: dict[str, float]
    backup_schema: str | None
    plan: Plan
    verified: verify.VerifyResult | None = None


def select_tables(plan: Plan, include: list[str], exclude: list[str]) -> Plan:
    def keep(name: str) -> bool:
        if include and not any(fnmatch.fnmatchcase(name, g) for g in include):
            return False
        return not any(fnmatch.fnmatchcase(name, g) for g in exclude)

    kept = {t.pg_name for t in plan.tables if keep(t.name)}
    tables = [replace(t, foreign_keys=[fk for fk in t.foreign_keys if fk.ref_table in kept])
              for t in plan.tables if t.pg_name in kept]
    blockers = [b for b in plan.blockers if keep(b.table)]
    return Plan(plan.format, plan.source, tables, plan.views if not (include or exclude) else [],
                blockers, plan.warnings, plan.not_carried)


def run(source: Path, plan: Plan, opts: RunOptions,
        log: Callable[[str], None] = print) -> RunResult:
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    plan = select_tables(plan, opts.include, opts.exclude)
    if plan.blockers:
        first = plan.blockers[0]
        raise BlockersFound(f"the plan has {len(plan.blockers)} blocker(s), first: {first}; "
                            "run 'sqlite2pg plan' to see them all, fix them or --exclude the "
                            "tables.")
    names = [t.pg_name for t in plan.tables]
    views = [v.pg_name for v in plan.views]

    log(f"STEP 2  check target {target.redact(opts.dsn)}")
    with target.connect(opts.dsn, autocommit=True) as conn:
        if opts.data_only:
            missing = set(names) - set(target.existing_relations(conn, opts.target_schema, names))
            if missing:
                raise TargetError(f"--data-only needs the tables to exist in "
                                  f"{opts.target_schema!r}; missing: {', '.join(sorted(missing))}.")
            return _data_only(source, plan, opts, log, t0)
        clash = target.existing_relations(conn, opts.target_schema, names + views)
        if clash and opts.if_exists != "replace":
            raise target.conflict_error(opts.target_schema, clash)
        staging = target.new_staging_name()
        try:
            target.create_staging(conn, staging)
        except psycopg.Error as e:
            raise target.describe(e, opts.dsn) from None
    steps["check"] = time.perf_counter() - t0

    results: list[copier.TableResult] = []
    backup = None
    try:
        start = time.perf_counter()
        log(f"STEP 3  create {len(names)} tables in staging schema {staging}")
        with target.connect(opts.dsn) as conn:
            conn.execute(sql.SQL("SET search_path TO {}, pg_catalog").format(
                sql.Identifier(staging)))
            for st in ddl.pre_data(plan):
                conn.execute(st.sql.encode())
            conn.commit()
        steps["pre-data"] = time.perf_counter() - start

        if not opts.schema_only:
            start = time.perf_counter()
            log(f"STEP 4  copy rows ({sum(t.rows for t in plan.tables)} planned)")
            results = copier.Copier(source, opts.dsn, staging, plan.tables,
                                    opts.batch_rows).run()
            steps["copy"] = time.perf_counter() - start

        start = time.perf_counter()
        log("STEP 5  post-data: keys, indexes, checks, identities, foreign keys, views")
        postdata.run_post_data(plan, opts.dsn, staging, opts.jobs, lambda m: log("        " + m))
        steps["post-data"] = time.perf_counter() - start

        start = time.perf_counter()
        log(f"STEP 6  switch into schema {opts.target_schema}")
        with target.connect(opts.dsn) as conn:
            backup = target.switch(conn, staging, opts.target_schema, names, views,
                                   opts.if_exists == "replace")
            conn.commit()
        steps["switch"] = time.perf_counter() - start
    except BaseException:
        _drop_quietly(opts.dsn, staging)
        raise
    result = RunResult(results, steps, backup, plan)
    if opts.verify and not opts.schema_only:
        _verify(source, plan, opts, result, log)
    steps["total"] = time.perf_counter() - t0
    return result


def _verify(source: Path, plan: Plan, opts: RunOptions, result: RunResult,
            log: Callable[[str], None]) -> None:
    start = time.perf_counter()
    log("STEP 7  verify row counts and checksums")
    result.verified = verify.verify(source, plan, opts.dsn, opts.target_schema,
                                    batch_rows=opts.batch_rows)
    result.steps["verify"] = time.perf_counter() - start


def _data_only(source: Path, plan: Plan, opts: RunOptions, log: Callable[[str], None],
               t0: float) -> RunResult:
    """Append rows into existing tables (one COPY transaction per table)."""
    log(f"STEP 4  copy rows into existing tables of {opts.target_schema}")
    results = copier.Copier(source, opts.dsn, opts.target_schema, plan.tables,
                            opts.batch_rows).run()
    result = RunResult(results, {}, None, plan)
    if opts.verify:
        _verify(source, plan, opts, result, log)
    result.steps["total"] = time.perf_counter() - t0
    return result


def _drop_quietly(dsn: str, staging: str) -> None:
    try:
        with target.connect(dsn, autocommit=True) as conn:
            target.drop_schema(conn, staging)
    except (TargetError, psycopg.Error):
        pass


def plan_for_run(source: Path, plan_file: Path | None, **kwargs: object) -> Plan:
    if plan_file is not None:
        return plan_mod.load_plan(plan_file)
    return plan_mod.build_plan(source, **kwargs)  # type: ignore[arg-type]


def plan_for_verify(source: Path, dsn: str, schema: str, plan_file: Path | None,
                    **kwargs: object) -> Plan:
    """The reviewed plan file, else the plan the last run recorded, else a fresh plan."""
    if plan_file is not None:
        return plan_mod.load_plan(plan_file)
    return plan_mod.build_plan(source, **kwargs)  # type: ignore[arg-type]
