"""What a resumed run continues: the source's run that did not finish, its own options,
and checks that the rows already copied still match the source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from transfer import model, state, target
from transfer.errors import TargetError
from transfer.model import Plan
from transfer.source import snapshot_identity
from transfer.target import Conn

if TYPE_CHECKING:
    from transfer.pipeline import RunOptions


def find(conn: Conn, source: Path, opts: RunOptions) -> state.Run | None:
    """This source's newest run that did not finish: interrupted while loading, or switched
    without its final verify; None when there is none."""
    path = str(source.resolve())
    for r in state.runs(conn, None if opts.any_schema else opts.target_schema):
        if path not in (r.source, r.source_identity.get("backup_of")):
            continue
        if r.state == "loading":
            if not state.try_lock(conn, r.run_id):
                raise TargetError(f"run {r.run_id} is still running in another process; wait "
                                  "for it or stop it first.")
            return r
        if r.state == "switched" and r.options.get("verify") and "verify" not in \
                state.progress(conn, r.run_id):
            return r
        return None  # the newest run of this source finished (or failed): a new run
    return None


def continue_run(conn: Conn, r: state.Run, source: Path, opts: RunOptions,
                 revise: Callable[[], Plan] | None, log: Callable[[str], None]
                 ) -> tuple[str, str, Plan, dict[str, state.TableProgress], Path]:
    """Take up run ``r``: (run id, staging schema, plan, progress, the file it reads).
    ``revise``: the revised plan, selected as the run's own options say (called after
    they are applied), which changes post-data only."""
    if not state.schema_exists(conn, r.staging_schema):
        raise TargetError(f"the staging schema {r.staging_schema} of run {r.run_id} is gone, "
                          "so it cannot be resumed; start a new run without --resume.")
    if r.source_identity.get("backup_of") == str(source.resolve()):
        source = Path(r.source)  # the run reads its backup: the snapshot it started from
        if not source.is_file():
            raise TargetError(f"run {r.run_id} read its backup {source}, which is gone, so it "
                              "cannot be resumed; start a new run without --resume.")
    recorded = {k: v for k, v in r.source_identity.items() if k != "backup_of"}
    if snapshot_identity(source) != recorded:
        raise TargetError(f"{source} has changed since run {r.run_id} read it, so the rows "
                          "already copied may not match it; start a new run without --resume "
                          "('sqlite2pg clean' drops the old staging schema).")
    plan = model.stored_plan(r.plan, r.run_id)
    with conn.transaction():  # (a run an earlier version started: its bookkeeping updated)
        state.ensure(conn)
    apply_recorded(opts, r)
    if revise is not None:
        plan = model.revised(plan, revise())  # (selected with the run's own options)
        state.set_plan(conn, r.run_id, plan.to_json())
        log("        with the revised plan (its post-data replaces the recorded one)")
    names = [t.pg_name for t in plan.tables] + [v.pg_name for v in plan.views]
    clash = target.existing_relations(conn, opts.target_schema, names)
    if clash and opts.if_exists != "replace":  # (before copying more: the switch would fail)
        raise target.conflict_error(opts.target_schema, clash)
    log(f"        resuming run {r.run_id} in {r.staging_schema}, reading {source}")
    return r.run_id, r.staging_schema, plan, state.progress(conn, r.run_id), source


def apply_recorded(opts: RunOptions, r: state.Run) -> None:
    """The interrupted run's own options: its target schema, --if-exists, verify, rejects,
    its selection, --live."""
    opts.target_schema = r.target_schema
    opts.if_exists = str(r.options.get("if_exists", opts.if_exists))
    opts.verify = bool(r.options.get("verify", opts.verify))
    if r.options.get("reject_dir"):
        opts.reject_dir = Path(str(r.options["reject_dir"]))
    opts.include = [str(g) for g in r.options.get("include", opts.include)]
    opts.exclude = [str(g) for g in r.options.get("exclude", opts.exclude)]
    opts.live = bool(r.options.get("live", opts.live))
