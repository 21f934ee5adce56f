"""The orchestrator of ``run``: it reads like the step list.

    STEP 1  check the target before reading a row: connect, privileges, same-named tables
    STEP 2  plan (computed afresh, or the reviewed plan file), checked against the target
    STEP 3  create the staging schema and the tables (pre-data)
    STEP 4  copy the rows (one SQLite snapshot -> Arrow batches -> binary COPY)
    STEP 5  keys, indexes, checks, identities, foreign keys, views, ANALYZE (post-data)
    STEP 6  switch the staging tables into the target schema, in one transaction
    STEP 7  verify: row counts and content checksums, source against target
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from transfer import (
    capture,
    copier,
    copyread,
    dataonly,
    ddl,
    faults,
    model,
    postdata,
    preflight,
    resume,
    state,
    target,
    verify,
)
from transfer import plan as plan_mod
from transfer import progress as progress_mod
from transfer import source as source_mod
from transfer.errors import (
    BlockersFound,
    ConflictError,
    Interrupted,
    PlanError,
    PostDataFailed,
    TargetError,
    TransferError,
)
from transfer.model import Note, Plan
from transfer.progress import Progress
from transfer.settings import BATCH_ROWS, JOBS, STAGING_PREFIX
from transfer.source import snapshot_identity
from transfer.target import Conn


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
    # continue this source's interrupted run (into ``target_schema``, or into any schema
    # when ``any_schema``), or its verify after a switch; a new run when there is none
    resume: bool = False
    any_schema: bool = False
    revise: bool = False  # resuming, the plan given revises the recorded one (post-data)
    truncate: bool = False  # --data-only: empty the application's tables in the load's tx
    interval_unit: str | None = None  # --data-only: the unit of integer durations
    live: bool = False  # capture the application's changes; sync and cutover follow
    backup_dir: Path | None = None  # keep the migrated snapshot here (and read it from there)
    # the operator's view of each phase (copy, post-data, verify); None: nothing shown
    progress: Progress | None = None
    reject_dir: Path | None = None  # --on-error reject: rows that cannot be carried go here
    # the staging schema of a new live run, named before its capture begins (the run id
    # follows from it: the source's change log keeps what that run has not applied)
    staging: str | None = None

    def recorded(self) -> dict[str, Any]:
        """What a resumed run keeps of these options (the run records them)."""
        return {"if_exists": self.if_exists, "verify": self.verify,
                "reject_dir": str(self.reject_dir) if self.reject_dir else None,
                "include": self.include, "exclude": self.exclude, "live": self.live}

    def recorded_for(self, source: Path) -> dict[str, Any]:
        out = self.recorded()
        if self.live:  # (a schema change while capturing stops the catch-up)
            out["schema_cookie"] = source_mod.schema_version(source)
        return out


@dataclass
class RunResult:
    tables: list[copier.TableResult]
    steps: dict[str, float]
    backup_schema: str | None
    plan: Plan
    verified: verify.VerifyResult | None = None
    run_id: str | None = None
    snapshot: Any = None  # the copy's SQLite read transaction, held for the final verify
    copy_identity: dict[str, Any] | None = None  # the source when that snapshot opened
    refused: list[Note] = field(default_factory=list)  # views PostgreSQL refused at the run
    sizes: dict[str, int] = field(default_factory=dict)  # table -> bytes in PostgreSQL
    rejects_dir: Path | None = None  # --on-error reject: this run's reject files
    capture_position: int | None = None  # --live: the last change the copy's snapshot holds

    @property
    def decisions(self) -> list[Note]:
        """Every decision that changed a type, key, constraint or value, and what was not
        carried over (the plan's, and the views PostgreSQL refused at the run)."""
        return [*self.plan.warnings, *self.plan.not_carried, *self.refused]


PlanSource = Plan | Callable[[], Plan] | None


def run(source: Path, plan: PlanSource, opts: RunOptions,
        log: Callable[[str], None] = print) -> RunResult:
    """Run ``plan`` (a plan, or a function making it when a new run needs one).

    With ``opts.resume``, this source's interrupted run continues with its own plan and
    options (or a revised ``plan`` that changes post-data only), a run killed after its
    switch is verified, and a new run starts when none was recorded. A refused run writes
    nothing in the target.
    """
    t0 = time.perf_counter()
    if opts.data_only:
        return _data_only(source, opts, log, t0)
    planned: dict[str, float] = {}  # steps before the run's own: plan, backup (in its total)
    if callable(plan):
        plan = _timed(plan, planned)
    make = plan if callable(plan) else (lambda: _given(plan))
    log(f"STEP 1  check target {target.show(opts.dsn)}")
    lock = target.connect(opts.dsn, autocommit=True)  # holds the run's lock to the end
    chosen = None
    opts.staging = None  # (a new live run's, once its capture starts)
    try:
        try:
            if not opts.resume:  # (fail fast: before the source is profiled)
                _preflight(lock, source, opts, log)
                if opts.live:
                    _start_capture(source, opts, log)
                chosen = _selected(make(), opts)  # (blockers and selection)
        except BaseException:
            lock.close()
            raise
        return _run(lock, source, make, plan, chosen, opts, log, t0, planned)
    except BaseException:
        reader = opts.staging.removeprefix(STAGING_PREFIX) if opts.staging else None
        if reader is not None and not _needed(opts.dsn, reader):
            # (it will apply no change: trims go on without it)
            capture.forget_quietly(source, reader)
        raise


def _start_capture(source: Path, opts: RunOptions, log: Callable[[str], None]) -> None:
    """A new live run: its staging schema named, and its run id registered as a reader of
    the change log its capture starts (before its copy's snapshot)."""
    opts.staging = target.new_staging_name()
    capture.start_for_run(source, opts.include, opts.exclude,
                          opts.staging.removeprefix(STAGING_PREFIX), log)


def check(source: Path, make: Callable[[], Plan], opts: RunOptions,
          log: Callable[[str], None] = print) -> Plan:
    """Everything ``run`` checks before it writes, and nothing written: the target
    (connection, privileges, same-named tables), the plan's blockers and selection, the
    plan's own names in the target, the source readable now."""
    log(f"STEP 1  check target {target.show(opts.dsn)}")
    with target.connect(opts.dsn, autocommit=True) as conn:
        _preflight(conn, source, opts, log)
        chosen = _selected(make(), opts)
        try:
            _check_new(conn, source, chosen, opts)
        except psycopg.Error as e:
            raise target.describe(e, opts.dsn, "checking the target") from None
    say_decisions(chosen, log)
    return chosen


def resume_command(source: Path, dsn: str) -> str:
    """The command that continues this run, pasteable (the target without its password)."""
    return shlex.join(["sqlite2pg", "run", str(source),
                       *(["--to", target.show(dsn)] if dsn else []), "--resume"])


def _preflight(conn: Conn, source: Path, opts: RunOptions, log: Callable[[str], None]) -> None:
    try:
        found = preflight.check_target(
            conn, opts.target_schema,
            preflight.table_names(source, opts.include, opts.exclude), opts.if_exists)
    except psycopg.Error as e:
        raise target.describe(e, opts.dsn, "checking the target") from None
    log(f"        role {found.user} may create schemas in {found.database} (PostgreSQL "
        f"{found.server}); no table of the source's names in schema {opts.target_schema}"
        if opts.if_exists != "replace" else
        f"        role {found.user} may create schemas in {found.database} (PostgreSQL "
        f"{found.server})")


def _timed(make: Callable[[], Plan], planned: dict[str, float]) -> Callable[[], Plan]:
    def timed() -> Plan:
        start = time.perf_counter()
        try:
            return make()
        finally:
            planned["plan"] = planned.get("plan", 0.0) + time.perf_counter() - start
    return timed


def _run(lock: Conn, source: Path, make: Callable[[], Plan], plan: PlanSource,
         chosen: Plan | None, opts: RunOptions, log: Callable[[str], None],
         t0: float, planned: dict[str, float]) -> RunResult:
    again = resume_command(source, opts.dsn)  # (source: the file given, not its backup)
    given = source
    with lock:
        try:
            found = resume.find(lock, source, opts) if opts.resume else None
            if found is not None and found.state == "switched":
                return _verify_switched(lock, found, opts, log, t0)
            if found is not None:
                revise = (lambda: _selected(plan() if callable(plan) else _given(plan), opts)
                          ) if opts.revise and plan is not None else None
                run_id, staging, chosen, done, source = resume.continue_run(
                    lock, found, source, opts, revise, log)
            else:
                if opts.resume:
                    log(f"        no interrupted run of {source} is recorded in this "
                        "database: starting a new run")
                    if opts.live:
                        _start_capture(source, opts, log)
                    chosen = _selected(make(), opts)
                assert chosen is not None
                original = source
                _check_new(lock, source, chosen, opts)
                if opts.backup_dir is not None:
                    start = time.perf_counter()
                    source = source_mod.backup(source, opts.backup_dir)
                    planned["backup"] = time.perf_counter() - start  # (a step of its own)
                    log(f"        backup of the snapshot migrated: {source}")
                run_id, staging = _new_run(lock, source, chosen, opts, original)
                done = {}
        except psycopg.Error as e:
            raise target.describe(e, opts.dsn, "checking the target") from None
        steps = {"check": time.perf_counter() - t0 - sum(planned.values()), **planned}
        say_decisions(chosen, log)
        try:
            try:
                result = _load(source, chosen, opts, log, run_id, staging, done, steps)
            except psycopg.Error as e:  # (pre-data, the switch)
                raise target.describe(e, opts.dsn) from None
        except KeyboardInterrupt:
            _record(lock, run_id, "loading", "interrupted")
            raise Interrupted(f"interrupted; the target schema is as it was; continue with: "
                              f"{again}") from None
        except TransferError as e:
            if isinstance(e, Interrupted | target.ServerTimeout | PostDataFailed
                          | ConflictError) or (
                    isinstance(e, TargetError) and _connection_lost(opts.dsn)):
                # resumable: the work done so far stays (status lists it; clean drops it)
                _record(lock, run_id, "loading", str(e))
                if isinstance(e, TargetError) and not isinstance(
                        e, target.ServerTimeout | PostDataFailed | ConflictError):
                    raise Interrupted(f"{e} The target schema is as it was; when the server "
                                      f"is back, continue with: {again}") from None
                raise
            _drop_quietly(opts.dsn, staging)
            _record(lock, run_id, "failed", str(e))
            raise
        except BaseException as e:
            _drop_quietly(opts.dsn, staging)
            _record(lock, run_id, "failed", f"{type(e).__name__}: {e}")
            raise
    result.sizes = _sizes(opts, result.plan)
    if opts.verify and not opts.schema_only:
        _verify(source, chosen, opts, result, log)
    if result.capture_position is not None and result.run_id is not None:
        # The change log keeps what this run's target does not hold (its copy's snapshot),
        # no more. (Written through Python's SQLite once the verify's snapshot is closed:
        # closing this connection's file drops the locks the driver's library holds on it,
        # see reader.write_lock.)
        try:
            capture.register(given, result.run_id, result.capture_position)
        except TransferError as e:
            log(f"        the change log keeps the changes from the capture's start for this "
                f"run ({e}); the next sync records its position")
    steps["total"] = time.perf_counter() - t0
    return result


def _sizes(opts: RunOptions, plan: Plan) -> dict[str, int]:
    """Each table's size in the target, its indexes included (for the summary); empty
    when the server will not say."""
    try:
        with target.connect(opts.dsn, autocommit=True) as conn:
            found = target.relation_sizes(conn, opts.target_schema,
                                          [t.pg_name for t in plan.tables])
    except (TransferError, psycopg.Error):
        return {}
    return {t.name: found[t.pg_name] for t in plan.tables if t.pg_name in found}


def _given(plan: Plan | None) -> Plan:
    if plan is None:
        raise PlanError("no plan to run; give a plan or a source to plan.")
    return plan


def _selected(plan: Plan, opts: RunOptions) -> Plan:
    plan = plan.select(opts.include, opts.exclude)
    if plan.blockers:
        first = plan.blockers[0]
        raise BlockersFound(f"the plan has {len(plan.blockers)} blocker(s), first: {first}; "
                            "run 'sqlite2pg plan' to see them all, fix them or --exclude the "
                            "tables.")
    if not plan.tables and not plan.views:
        raise TransferError("the plan has no table or view to migrate; check the source (or "
                            "the plan file).")
    return plan


def _check_new(conn: Conn, source: Path, plan: Plan, opts: RunOptions) -> None:
    """Refuse a new run before writing anything: same-named tables in the target, a source
    that cannot be read now."""
    names = [t.pg_name for t in plan.tables] + [v.pg_name for v in plan.views]
    clash = target.existing_relations(conn, opts.target_schema, names)
    if clash and opts.if_exists != "replace":
        raise target.conflict_error(opts.target_schema, clash)
    source_mod.check_readable(source)


def _new_run(conn: Conn, source: Path, plan: Plan, opts: RunOptions, original: Path
             ) -> tuple[str, str]:
    """Record a new run and create its staging schema, in one transaction; (run id, staging
    schema)."""
    names = [t.pg_name for t in plan.tables]
    views = [v.pg_name for v in plan.views]
    staging = opts.staging or target.new_staging_name()
    run_id = staging.removeprefix(STAGING_PREFIX)
    identity: dict[str, Any] = dict(snapshot_identity(source))
    if source != original:
        identity["backup_of"] = str(original.resolve())
    with conn.transaction():
        state.ensure(conn)
        target.create_staging(conn, staging)
        state.create_run(conn, run_id, str(source.resolve()), identity, opts.target_schema,
                         staging, names, views, plan.to_json(), opts.recorded_for(source))
    state.try_lock(conn, run_id)
    return run_id, staging


def _verify_switched(conn: Conn, r: state.Run, opts: RunOptions, log: Callable[[str], None],
                     t0: float) -> RunResult:
    """Resume a run killed after its switch: its final verify."""
    resume.apply_recorded(opts, r)
    plan = model.stored_plan(r.plan, r.run_id)
    log(f"        run {r.run_id} was switched into {r.target_schema}; its final verify "
        "remains")
    source = Path(r.source)
    recorded = {k: v for k, v in r.source_identity.items() if k != "backup_of"}
    if not source.is_file() or snapshot_identity(source) != recorded:
        raise TargetError(f"run {r.run_id} was switched, but {source} has changed (or is gone) "
                          "since it was copied, so its final verify cannot compare the snapshot "
                          "migrated; 'sqlite2pg verify' compares the source as it is now (rows "
                          "written since are reported), and --backup keeps the snapshot for "
                          "this.")
    result = RunResult([copier.TableResult(t.name, t.rows) for t in plan.tables],
                       {"check": time.perf_counter() - t0}, r.backup_schema, plan,
                       run_id=r.run_id)
    _verify(source, plan, opts, result, log)
    result.steps["total"] = time.perf_counter() - t0
    return result


def _load(source: Path, plan: Plan, opts: RunOptions, log: Callable[[str], None],
          run_id: str, staging: str, done: dict[str, state.TableProgress],
          steps: dict[str, float]) -> RunResult:
    names = [t.pg_name for t in plan.tables]
    views = [v.pg_name for v in plan.views]
    start = time.perf_counter()
    if "pre-data" in done:
        log(f"STEP 3  tables exist in staging schema {staging} (resumed)")
    else:
        log(f"STEP 3  create {len(names)} tables in staging schema {staging}")
        with target.connect(opts.dsn) as conn:
            extension = target.citext_schema(conn, staging) if plan.uses_citext else None
            conn.execute(sql.SQL("SET search_path TO {}, pg_catalog").format(
                sql.SQL(", ").join(sql.Identifier(n) for n in dict.fromkeys(
                    [staging, *([extension] if extension else [])]))))
            for st in ddl.pre_data(plan):
                conn.execute(st.sql.encode())
            target.hold_autovacuum(conn, staging, names)
            state.mark_done(conn, run_id, "pre-data")
            faults.pause("pre-data")
            conn.commit()
    steps["pre-data"] = time.perf_counter() - start

    results: list[copier.TableResult] = []
    held: Any = None
    identity: dict[str, Any] | None = None
    capture_at = None
    meter = opts.progress or progress_mod.off()
    post = postdata.PostData(plan, opts.dsn, staging, opts.jobs, lambda m: log("        " + m),
                             run_id=run_id, done=done,
                             on_statement=lambda n: meter.update("post-data", n))
    try:
        try:
            if not opts.schema_only:
                start = time.perf_counter()
                resume = {k.removeprefix("table "): v for k, v in done.items()
                          if k.startswith("table ")}
                log(f"STEP 4  copy rows ({sum(t.rows for t in plan.tables):,} planned); keys and "
                    "indexes of each copied table start at once")
                copy = progress_mod.CopyProgress(meter, plan.tables, done)
                cp = copier.Copier(source, opts.dsn, staging, plan.tables, opts.batch_rows,
                                   progress=copy.batch, run_id=run_id, resume=resume,
                                   table_done=copy.then(post.table_ready),
                                   profiled_snapshot=None if plan.source.get("sampled", True)
                                   else plan.source.get("snapshot"),
                                   rejects=copyread.RejectLog(opts.reject_dir / run_id)
                                   if opts.reject_dir else None,
                                   keep_snapshot=opts.verify, jobs=copy_streams(opts.jobs))
                results = [copier.TableResult(t.name, resume[t.name].rows) for t in cp.skipped]
                for t in cp.skipped:
                    post.table_ready(t.name)
                results += cp.run()
                held, identity = cp.snapshot, cp.identity
                if cp.capture_position is not None and opts.live:
                    capture_at = cp.capture_position
                    with target.connect(opts.dsn, autocommit=True) as conn:
                        state.mark_done(conn, run_id, "capture", rows=cp.capture_position)
                order = {t.name: i for i, t in enumerate(plan.tables)}
                results.sort(key=lambda r: order[r.table])
                if opts.reject_dir is not None:  # (a resumed run's too: those of every invocation)
                    for r in results:
                        r.rejected = copyread.RejectLog.rows_in(opts.reject_dir / run_id, r.table)
                meter.end("copy")
                steps["copy"] = time.perf_counter() - start
            start = time.perf_counter()
            statements = post.total
            log(f"STEP 5  post-data: keys, indexes, checks, identities, foreign keys, views "
                f"({statements} statements, {post.executed} done)")
            meter.begin("post-data", statements, "statements")
            meter.update("post-data", post.executed)
            try:
                post.finish()
            finally:
                meter.end("post-data")
            steps["post-data"] = time.perf_counter() - start
        finally:
            meter.stop()
            post.close()
        refused = post.skipped

        start = time.perf_counter()
        log(f"STEP 6  switch into schema {opts.target_schema}")
        with target.connect(opts.dsn) as conn:
            backup = target.switch(conn, staging, opts.target_schema, names, views,
                                   opts.if_exists == "replace")
            state.set_state(conn, run_id, "switched", backup_schema=backup)
            faults.pause("switch")
            conn.commit()
    except BaseException:
        if held is not None:  # (kept for a verify that will not come)
            held.close()
        raise
    steps["switch"] = time.perf_counter() - start
    return RunResult(results, steps, backup, plan, run_id=run_id, snapshot=held,
                     copy_identity=identity, refused=refused, capture_position=capture_at,
                     rejects_dir=opts.reject_dir / run_id if opts.reject_dir else None)


def say_decisions(plan: Plan, log: Callable[[str], None]) -> None:
    """Every decision of the plan, one line each, before anything is copied (the run's log
    is what its operator keeps; the report has them with their example rows)."""
    notes = [*plan.warnings, *plan.not_carried]
    if notes:
        log(f"        decisions ({len(notes)}; with example rows in --report):")
        for n in notes:
            log(f"          {n.kind or 'decision':<12} {n}")


def copy_streams(jobs: int) -> int:
    """Copy streams for ``--jobs``: one per two jobs, since each keeps about two cores busy
    (its reader and converter here, its COPY in the server). On 2 cores, a second stream
    was no faster and took 14 MiB more peak RSS."""
    return max(1, jobs // 2)


def _record(conn: Conn, run_id: str, run_state: str, message: str) -> None:
    """The run stopped while loading (a run switched meanwhile stays switched)."""
    try:
        state.set_state(conn, run_id, run_state, message, only_from="loading")
    except psycopg.Error:
        pass


def _needed(dsn: str, run_id: str) -> bool:
    """Whether live run ``run_id`` may still apply changes: recorded and left loading (to
    be resumed) or switched (its verify failed: sync follows it); when unknown, yes."""
    try:
        with target.connect(dsn, autocommit=True) as conn:
            return any(r.run_id == run_id and r.state in ("loading", "switched")
                       for r in state.runs(conn))
    except (TransferError, psycopg.Error):
        return True


def _connection_lost(dsn: str) -> bool:
    try:
        with target.connect(dsn, autocommit=True):
            return False
    except TransferError:
        return True


def _verify(source: Path, plan: Plan, opts: RunOptions, result: RunResult,
            log: Callable[[str], None]) -> None:
    start = time.perf_counter()
    snapshot = result.snapshot
    faults.pause("verify")
    if opts.live and snapshot is None and snapshot_identity(source) != result.copy_identity:
        log("STEP 7  verify: left to the cutover (the application wrote since the copy, and "
            "a rollback journal cannot keep the snapshot copied)")
        if result.run_id is not None:
            with target.connect(opts.dsn, autocommit=True) as conn:
                state.mark_done(conn, result.run_id, "verify")
        return
    try:
        if snapshot is not None and snapshot_identity(source) != result.copy_identity:
            # The application wrote since the copy began: compare the very snapshot copied.
            log("STEP 7  verify row counts and checksums (against the snapshot copied; the "
                "source has changed since)")
            result.verified = verify.verify(source, plan, opts.dsn, opts.target_schema,
                                            batch_rows=opts.batch_rows, snapshot=snapshot,
                                            log=_verdict_log(log), progress=opts.progress)
        else:
            log("STEP 7  verify row counts and checksums")
            result.verified = verify.verify(source, plan, opts.dsn, opts.target_schema,
                                            batch_rows=opts.batch_rows, jobs=opts.jobs,
                                            log=_verdict_log(log), progress=opts.progress)
    finally:
        if snapshot is not None:
            snapshot.close()
            result.snapshot = None
    if result.run_id is not None:
        differing = [v.table for v in result.verified.tables if not v.equal]
        with target.connect(opts.dsn, autocommit=True) as conn:
            state.mark_done(conn, result.run_id, "verify", rows=sum(
                v.source_rows for v in result.verified.tables))
            state.set_state(conn, result.run_id, "switched",
                            "verified: every table equal" if not differing else
                            f"verified: {len(differing)} tables differ ({', '.join(differing)})")
    result.steps["verify"] = time.perf_counter() - start


def _data_only(source: Path, opts: RunOptions, log: Callable[[str], None],
               t0: float) -> RunResult:
    """Load into the application's own schema (transfer.dataonly)."""
    log(f"STEP 1  plan the load into schema {opts.target_schema} of {target.show(opts.dsn)}")
    plan = dataonly.plan_into(source, opts.dsn, opts.target_schema, opts.include,
                              opts.exclude, opts.interval_unit, opts.truncate)
    steps = {"plan": time.perf_counter() - t0}
    for n in plan.warnings:
        log(f"          {n.kind or 'decision':<12} {n}")
    start = time.perf_counter()
    log(f"STEP 4  copy rows ({sum(t.rows for t in plan.tables)} planned) into staging tables "
        "of the target's own types")
    stats: dict[str, tuple[int, float]] = {}
    copied = dataonly.load(source, plan, opts.dsn, opts.truncate, opts.resume, log,
                           opts.progress, stats)
    steps["load"] = time.perf_counter() - start
    model_plan = dataonly.verify_plan(plan)
    result = RunResult([copier.TableResult(t.name, copied.get(t.name, 0),
                                           *stats.get(t.name, (0, 0.0)),
                                           read=copied.get(t.name, 0)) for t in plan.tables],
                       steps, None, model_plan)
    if opts.verify:
        start = time.perf_counter()
        log("STEP 7  verify row counts and checksums, through the target's types")
        result.verified = verify.verify(source, model_plan, opts.dsn, opts.target_schema,
                                        batch_rows=opts.batch_rows, jobs=opts.jobs,
                                        log=_verdict_log(log), progress=opts.progress)
        steps["verify"] = time.perf_counter() - start
    steps["total"] = time.perf_counter() - t0
    return result


def _verdict_log(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda m: log("        verified " + m)


def _drop_quietly(dsn: str, staging: str) -> None:
    try:
        with target.connect(dsn, autocommit=True) as conn:
            target.drop_schema(conn, staging)
    except (TargetError, psycopg.Error):
        pass


def plan_for_run(source: Path, plan_file: Path | None, **kwargs: object) -> Plan:
    if plan_file is not None:
        return model.load_plan(plan_file)
    return plan_mod.build_plan(source, **kwargs)  # type: ignore[arg-type]


def plan_for_verify(source: Path, dsn: str, schema: str, plan_file: Path | None,
                    **kwargs: object) -> Plan:
    """The reviewed plan file, else the plan the last run from ``source`` recorded (checked
    as a plan file is), else a fresh plan."""
    if plan_file is not None:
        return model.load_plan(plan_file)
    try:
        with target.connect(dsn, autocommit=True) as conn:
            recorded = [r for r in state.runs(conn, schema) if r.state == "switched"
                        and str(source.resolve()) in (r.source,
                                                      r.source_identity.get("backup_of"))]
    except psycopg.Error as e:
        raise target.describe(e, dsn) from None
    if recorded and recorded[0].options.get("data_only"):
        # (the application's schema decides the types: read again from its catalog)
        return dataonly.verify_plan(dataonly.plan_into(
            source, dsn, schema, truncate=True, profile=False))
    if recorded and not kwargs.get("casts"):
        plan = model.stored_plan(recorded[0].plan, recorded[0].run_id)
        if not plan.tables:
            raise TransferError(f"run {recorded[0].run_id} of {source} migrated no table, so "
                                "there is nothing to verify; give --plan FILE to compare "
                                "tables migrated otherwise.")
        return plan
    return plan_mod.build_plan(source, **kwargs)  # type: ignore[arg-type]
