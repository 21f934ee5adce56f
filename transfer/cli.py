"""The command line: a thin typed layer over the library.

Each command calls one library function. ``TransferError`` becomes its one-sentence
message on stderr and its exit code; nothing prints a traceback.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
import typer.core

from transfer import __version__
from transfer.errors import ExitCode, TransferError
from transfer.settings import JOBS, LOCK_TIMEOUT, SAMPLE_ROWS

if TYPE_CHECKING:
    from transfer.verify import VerifyResult

# Every usage error exits 64 (EX_USAGE), as the README says; click's own default is 2,
# which the README reserves for "could not do the job". (Typer parses with the click it
# carries, typer.core._click, or with click itself.)
for _click in {click, getattr(typer.core, "_click", click)}:
    _click.exceptions.UsageError.exit_code = int(ExitCode.USAGE)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Move a SQLite database into PostgreSQL: schema, data, keys and indexes, "
    "lossless or loud.",
)


class PlanFormat(StrEnum):
    text = "text"
    sql = "sql"
    json = "json"


def _fail(e: TransferError) -> None:
    from transfer.progress import clear_terminal_line

    clear_terminal_line()
    typer.echo(f"sqlite2pg: error: {e}", err=True)
    raise typer.Exit(int(e.exit_code))


def _casts(values: list[str] | None) -> dict[str, str]:
    out = {}
    for v in values or []:
        key, sep, typ = v.partition("=")
        if not sep or "." not in key or not typ.strip():
            typer.echo(f"sqlite2pg: error: --cast {v!r} is not TABLE.COLUMN=TYPE; "
                       "write e.g. --cast users.age=integer.", err=True)
            raise typer.Exit(int(ExitCode.USAGE))
        out[key.strip()] = typ.strip()
    return out


Source = Annotated[Path, typer.Argument(help="The SQLite database file.", show_default=False)]
TypeMapOpt = Annotated[Path | None, typer.Option("--type-map", help="A TOML file of type rules "
                                                 "tried before the defaults.")]
CastOpt = Annotated[list[str] | None, typer.Option("--cast", help="Force a column's type: "
                                                   "TABLE.COLUMN=TYPE (repeatable).")]
SampleOpt = Annotated[int, typer.Option("--sample", help="Profile at most N rows per table "
                                        "(0 = all rows).")]


class Nocase(StrEnum):
    CITEXT = "citext"
    TEXT = "text"


NocaseOpt = Annotated[Nocase, typer.Option(
    "--nocase", help="Type of COLLATE NOCASE text columns (not keys): citext, so that the "
    "application's = and LIKE ignore case as in SQLite (needs the citext extension), or "
    "text (case-sensitive). Unique indexes keep SQLite's uniqueness either way.")]


class RowOrder(StrEnum):
    TENANT = "tenant"
    SOURCE = "source"


ORDER_HELP = ("tenant: rows of each table with a tenant key in (tenant key, rowid) order, so "
              "each tenant's rows land together (sorting them costs time and temporary space "
              "near the largest such table's size); source: rowid order, the fastest.")


@app.command()
def plan(
    source: Source,
    format: Annotated[PlanFormat, typer.Option("--format", help="text, sql or json.")] = (
        PlanFormat.text),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Save the plan file "
                                                "that 'run --plan' executes.")] = None,
    type_map: TypeMapOpt = None,
    cast: CastOpt = None,
    sample: SampleOpt = SAMPLE_ROWS,
    order: Annotated[RowOrder, typer.Option("--order", help=ORDER_HELP)] = RowOrder.TENANT,
    nocase: NocaseOpt = Nocase.CITEXT,
    data_only: DataOnlyOpt = False,
    to: DsnOpt = None,
    target_schema: Annotated[str, typer.Option("--target-schema", help="With --data-only: "
                                               "the schema holding the application's "
                                               "tables.")] = "public",
    truncate: TruncateOpt = False,
    interval_unit: IntervalUnitOpt = None,
    live: Annotated[bool, typer.Option("--live", help="Also say which tables a live "
                                       "cutover can follow (the others are blockers).")
                    ] = False,
) -> None:
    """Preview the PostgreSQL schema and every type decision; needs no PostgreSQL. With
    --data-only --to DSN: how each value loads into the application's own tables, read from
    the target's catalog, and every value it could not take.

    Exit code 1 when the plan has blockers (what 'run' would fail on).
    """
    import time

    from transfer import dataonly, ddl, model, report, target
    from transfer import plan as plan_mod
    from transfer.progress import Progress
    from transfer.typemap import load_type_map

    if data_only:
        try:
            into = dataonly.plan_into(source, target.resolve_dsn(to), target_schema,
                                      interval_unit=_unit(interval_unit), truncate=truncate)
        except TransferError as e:
            _fail(e)
            return
        typer.echo(into.to_json() if format is PlanFormat.json
                   else "\n".join(dataonly.report_lines(into)))
        if into.blockers:
            raise typer.Exit(int(ExitCode.DIFFERENCES))
        return
    try:
        started = time.monotonic()
        p = plan_mod.build_plan(source, load_type_map(type_map), _casts(cast), sample,
                                JOBS, nocase.value, Progress()).ordered(order.value)
        # (the read and profile of every row: the text's estimate of run's duration scales it)
        p.source["profile_seconds"] = round(time.monotonic() - started, 3)
        if live:
            plan_mod.plan_live(source, p)
        if output is not None:
            model.save_plan(p, output)
    except TransferError as e:
        _fail(e)
        return
    if format is PlanFormat.json:
        typer.echo(p.to_json())
    elif format is PlanFormat.sql:
        typer.echo(ddl.script(p), nl=False)
    else:
        typer.echo(report.plan_text(p))
    if output is not None:
        typer.echo(f"plan saved to {output}", err=True)
    if p.blockers:
        raise typer.Exit(int(ExitCode.DIFFERENCES))


class IntervalUnit(StrEnum):
    MICROSECONDS = "microseconds"
    MILLISECONDS = "milliseconds"
    SECONDS = "seconds"
    DATETIME = "datetime"


DataOnlyOpt = Annotated[bool, typer.Option(
    "--data-only", help="Load the rows into the tables the application's own migrations made "
    "(their column types decide the conversions).")]
TruncateOpt = Annotated[bool, typer.Option(
    "--truncate", help="With --data-only: empty the application's tables (rows its migrations "
    "wrote) in the load's own transaction, so the source's rows win.")]
IntervalUnitOpt = Annotated[IntervalUnit | None, typer.Option(
    "--interval-unit", help="With --data-only: what an integer in a column loaded into an "
    "interval counts (default: the framework the file shows; Django: microseconds); "
    "datetime: a datetime past 1970-01-01 (SQLAlchemy's Interval).", show_default=False)]


def _unit(unit: IntervalUnit | None) -> str | None:
    return unit.value if unit is not None else None


class OnError(StrEnum):
    STOP = "stop"
    REJECT = "reject"


class IfExists(StrEnum):
    FAIL = "fail"
    REPLACE = "replace"


DsnOpt = Annotated[str | None, typer.Option(
    "--to", help="PostgreSQL DSN: postgresql://user@host/db or 'host=... dbname=...'; PG* "
    "variables and .pgpass apply. Default: DATABASE_URL, else the PG* variables (so no "
    "password need be on the command line).", show_default=False)]


@app.command()
def check(
    source: Source,
    to: DsnOpt = None,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Check this reviewed plan "
                                                   "file instead of planning afresh.")] = None,
    target_schema: Annotated[str, typer.Option("--target-schema", help="Schema that would "
                                               "receive the tables.")] = "public",
    if_exists: Annotated[IfExists, typer.Option("--if-exists", help="As run's: with replace, "
                                                "same-named tables are no obstacle.")
                         ] = IfExists.FAIL,
    include: Annotated[list[str] | None, typer.Option("--include", help="Only tables matching "
                                                      "this glob (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip tables matching "
                                                      "this glob (repeatable).")] = None,
    type_map: TypeMapOpt = None,
    cast: CastOpt = None,
    sample: SampleOpt = SAMPLE_ROWS,
    nocase: NocaseOpt = Nocase.CITEXT,
) -> None:
    """Check everything 'run' would check before writing, and write nothing: the target
    (connection, CREATE privileges, tables of the same names), the plan's blockers, the
    source readable now. Exit 0 when a run can start."""
    from transfer import model, pipeline, target
    from transfer import source as source_mod
    from transfer.typemap import load_type_map

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    def make_plan() -> model.Plan:
        log(f"STEP 2  plan {source}" + (f" (from {plan_file})" if plan_file else ""))
        return pipeline.plan_for_run(source, plan_file, type_map=load_type_map(type_map),
                                     casts=_casts(cast), sample=sample, nocase=nocase.value)

    try:
        dsn = target.resolve_dsn(to)
        source_mod.check_file(source)
        opts = pipeline.RunOptions(dsn=dsn, target_schema=target_schema,
                                   if_exists=if_exists.value, include=include or [],
                                   exclude=exclude or [])
        chosen = pipeline.check(source, make_plan, opts, log)
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"ready: a run can create {len(chosen.tables)} tables and {len(chosen.views)} "
               f"views in schema {target_schema} of {target.show(dsn)}; nothing was written")


@app.command()
def run(
    source: Source,
    to: DsnOpt = None,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Execute this reviewed plan "
                                                   "file instead of planning afresh.")] = None,
    target_schema: Annotated[str | None, typer.Option(
        "--target-schema", help="Schema that receives the tables (default public; with "
        "--resume, the interrupted run's).", show_default=False)] = None,
    if_exists: Annotated[IfExists, typer.Option("--if-exists", help="fail: refuse when tables "
                                                "of the same names exist; replace: swap them "
                                                "out into a dated schema.")] = IfExists.FAIL,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel scans and sessions for "
                                      "profiling, copy streams, post-data and verify.")] = JOBS,
    include: Annotated[list[str] | None, typer.Option("--include", help="Only tables matching "
                                                      "this glob (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip tables matching "
                                                      "this glob (repeatable).")] = None,
    schema_only: Annotated[bool, typer.Option("--schema-only", help="Create the schema, copy "
                                              "no rows.")] = False,
    data_only: DataOnlyOpt = False,
    truncate: TruncateOpt = False,
    interval_unit: IntervalUnitOpt = None,
    live: Annotated[bool, typer.Option("--live", help="A live cutover: capture the "
                                       "application's changes (triggers in the source), copy "
                                       "while it writes; then 'sqlite2pg sync' and "
                                       "'sqlite2pg cutover'.")] = False,
    report_file: Annotated[Path | None, typer.Option("--report", help="Write a report for a "
                                                     "change review: FILE.md as Markdown, "
                                                     "else JSON (docs/report.schema.json).")
                           ] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the final comparison "
                                            "of row counts and checksums.")] = False,
    on_error: Annotated[OnError, typer.Option("--on-error", help="stop: a value that cannot "
                                              "be carried stops the run, naming it; reject: "
                                              "its row goes to a reject file and the run "
                                              "goes on (verify then reports it missing).")
                        ] = OnError.STOP,
    reject_dir: Annotated[Path, typer.Option("--reject-dir", help="Where --on-error reject "
                                             "writes TABLE.rejects.jsonl files (in a "
                                             "sub-directory named after the run).")] = Path(
        "sqlite2pg-rejects"),
    backup: Annotated[Path | None, typer.Option("--backup", help="Keep a copy of the exact "
                                                "snapshot migrated in this directory (the "
                                                "run reads that copy).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue this source's interrupted "
                                         "run from its last committed point, with its own "
                                         "plan and options (--plan: a revised plan changing "
                                         "post-data only), or its final verify if it was "
                                         "switched; a new run when none is recorded.")] = False,
    lock_timeout: Annotated[str, typer.Option("--lock-timeout", help="Longest wait for a "
                                              "lock (e.g. the switch behind an application's "
                                              "transaction) before the run stops, resumable: "
                                              "0 (wait), 500ms, 30s, 5min.")] = LOCK_TIMEOUT,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the "
                                        "summary.")] = False,
    type_map: TypeMapOpt = None,
    cast: CastOpt = None,
    sample: SampleOpt = SAMPLE_ROWS,
    order: Annotated[RowOrder | None, typer.Option(
        "--order", help=ORDER_HELP + " Default: the plan file's order, else tenant.",
        show_default=False)] = None,
    nocase: NocaseOpt = Nocase.CITEXT,
) -> None:
    """Migrate SOURCE into PostgreSQL: schema, rows, keys, indexes; atomic; verified.

    Loads into a staging schema and switches it in at the end, so a failure leaves the
    target as it was; an interrupted run continues with --resume. Exit code 1 when the
    final verify finds differences.
    """
    from datetime import datetime

    from transfer import model, pipeline, summary, target
    from transfer import source as source_mod
    from transfer.progress import Progress
    from transfer.typemap import load_type_map

    if schema_only and data_only:
        typer.echo("sqlite2pg: error: --schema-only and --data-only exclude each other; "
                   "choose one.", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    if resume and schema_only:
        typer.echo("sqlite2pg: error: --resume continues a run that copies rows; leave out "
                   "--schema-only.", err=True)
        raise typer.Exit(int(ExitCode.USAGE))

    meter = Progress(quiet=quiet)
    started = datetime.now().astimezone()

    def make_plan() -> model.Plan:
        meter.log(f"STEP 2  plan {source}" + (f" (from {plan_file})" if plan_file else ""))
        p = pipeline.plan_for_run(source, plan_file, type_map=load_type_map(type_map),
                                  casts=_casts(cast), sample=sample, jobs=jobs,
                                  nocase=nocase.value, progress=meter)
        return p.ordered(order.value) if order is not None else p

    try:
        target.set_timeout("lock_timeout", lock_timeout)
        dsn = target.resolve_dsn(to)
        source_mod.check_file(source)
        opts = pipeline.RunOptions(dsn=dsn, target_schema=target_schema or "public",
                                   any_schema=target_schema is None,
                                   if_exists=if_exists.value, jobs=jobs,
                                   include=include or [], exclude=exclude or [],
                                   schema_only=schema_only, data_only=data_only,
                                   verify=not no_verify, resume=resume, backup_dir=backup,
                                   progress=meter,
                                   reject_dir=reject_dir if on_error is OnError.REJECT
                                   else None, truncate=truncate,
                                   interval_unit=_unit(interval_unit), live=live)
        opts.revise = bool(plan_file is not None or cast or type_map or order
                           or nocase is not Nocase.CITEXT)
        result = pipeline.run(source, make_plan, opts, meter.log)
    except TransferError as e:
        _fail(e)
        return
    rejects = result.rejects_dir
    report = summary.RunReport(result, source, dsn, opts.target_schema, started,
                               datetime.now().astimezone(),
                               [target.redact(a) for a in sys.argv[1:]], rejects,
                               data_only=data_only)
    for line in summary.summary_lines(report, decisions=quiet):
        typer.echo(line)
    if report.rejected:
        typer.echo(f"{report.rejected} rows could not be carried over and were set aside in "
                   f"{rejects} (one TABLE.rejects.jsonl per table)")
    if result.verified is not None:
        _print_problems(result.verified)
    if report_file is not None:
        summary.write(report, report_file)
        meter.log(f"report written to {report_file}")
    if result.verified is not None and not result.verified.equal:
        typer.echo("sqlite2pg: error: the target does not equal the source (see above); the "
                   "tables were switched in, 'sqlite2pg rollback' switches back.", err=True)
        raise typer.Exit(int(ExitCode.FAILED if result.verified.errors
                             else ExitCode.DIFFERENCES))


def _print_verdicts(result: VerifyResult) -> None:
    typer.echo(f"{'table':<32} {'SQLite rows':>13} {'PostgreSQL rows':>15} {'status':>8} "
               f"{'seconds':>8}")
    for v in result.tables:
        typer.echo(f"{v.table:<32} {v.source_rows:>13,} {v.target_rows:>15,} {v.status:>8} "
                   f"{v.seconds:>8.2f}")
    equal = sum(1 for v in result.tables if v.equal)
    typer.echo(f"{'total':<32} {sum(v.source_rows for v in result.tables):>13,} "
               f"{sum(v.target_rows for v in result.tables):>15,} "
               f"{f'{equal}/{len(result.tables)}':>8} {result.seconds:>8.2f}")
    _print_problems(result)


def _print_problems(result: VerifyResult) -> None:
    for v in result.tables:
        if v.error:
            typer.echo(f"{v.table}: could not verify: {v.error}")
        if not v.equal and not v.error and v.source_rows != v.target_rows:
            typer.echo(f"{v.table}: {v.source_rows} rows in SQLite, {v.target_rows} in "
                       "PostgreSQL")
        for d in v.differences:
            typer.echo(f"{v.table}: {d}")
        if v.more_differences:
            typer.echo(f"{v.table}: more differing rows not listed (raise "
                       "SQLITE2PG_VERIFY_LIMIT to see them)")


@app.command()
def verify(
    source: Source,
    to: DsnOpt = None,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="The plan file the run "
                                                   "executed (default: the plan recorded by "
                                                   "the last run, else planned afresh).")] = None,
    target_schema: Annotated[str, typer.Option("--target-schema", help="Schema holding the "
                                               "tables.")] = "public",
    tables: Annotated[list[str] | None, typer.Option("--tables", help="Only tables matching "
                                                     "this glob (repeatable).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    type_map: TypeMapOpt = None,
    cast: CastOpt = None,
) -> None:
    """Compare row counts and content checksums of every table; name differing rows.

    Exit code 0 when everything is equal, 1 when differences were found, 2 when something
    could not be verified.
    """
    from transfer import pipeline, target
    from transfer import source as source_mod
    from transfer import verify as verify_mod
    from transfer.progress import Progress
    from transfer.typemap import load_type_map

    try:
        dsn = target.resolve_dsn(to)
        source_mod.check_file(source)
        p = pipeline.plan_for_verify(source, dsn, target_schema, plan_file,
                                     type_map=load_type_map(type_map), casts=_casts(cast))
        result = verify_mod.verify(source, p, dsn, target_schema, tables or [],
                                   progress=Progress())
    except TransferError as e:
        _fail(e)
        return
    if json_out:
        typer.echo(result.to_json())
    else:
        _print_verdicts(result)
    if result.errors:
        raise typer.Exit(int(ExitCode.FAILED))
    if not result.equal:
        raise typer.Exit(int(ExitCode.DIFFERENCES))


capture_app = typer.Typer(help="Change capture on the source, for a live cutover.",
                          no_args_is_help=True,
                          context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(capture_app, name="capture")


@capture_app.command("start")
def capture_start(source: Source) -> None:
    """Install the change log and triggers in SOURCE (one short write transaction)."""
    from transfer import capture

    try:
        followed, refused = capture.start(source)
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"capturing the changes of {len(followed)} tables")
    for name, why in refused:
        typer.echo(f"not followed: {name}: {why}")


@capture_app.command("forget")
def capture_forget(source: Source, run: Annotated[str, typer.Argument(
        help="The live run's id, as sync names it.", show_default=False)]) -> None:
    """Stop keeping SOURCE's change log for a live run that will apply no more changes (one
    killed before it was recorded, or abandoned); the other runs' positions stay."""
    from transfer import capture

    try:
        found = capture.forget(source, run)
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"forgot live run {run}; the change log is trimmed without it" if found else
               f"no live run {run} is kept in {source}'s change log; nothing changed")


@capture_app.command("stop")
def capture_stop(source: Source) -> None:
    """Remove every object 'capture start' made in SOURCE."""
    from transfer import capture

    try:
        n = capture.stop(source)
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"removed {n} triggers and the change log")


LiveSchemaOpt = Annotated[str | None, typer.Option(
    "--target-schema", help="The live run's schema (default: its own).", show_default=False)]


@app.command()
def sync(
    source: Source,
    to: DsnOpt = None,
    target_schema: LiveSchemaOpt = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep applying until interrupted, "
                                         "showing the lag.")] = False,
) -> None:
    """Apply the changes the application made since the live run (or the last sync); each
    batch commits with its position, so a killed sync resumes where it stopped. Then the
    source's change log is trimmed of what every live run applied (a short write to the
    source; when it cannot write, the log is kept and said so)."""
    from transfer import sync as sync_mod
    from transfer import target

    try:
        live = sync_mod.catch_up(source, target.resolve_dsn(to), target_schema,
                                 lambda m: typer.echo(m, err=True), follow=follow)
    except KeyboardInterrupt:
        typer.echo("\nsqlite2pg: stopped following; run sync again to go on.", err=True)
        raise typer.Exit(int(ExitCode.OK)) from None
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"the target holds the source up to change {live.position}")


@app.command()
def cutover(
    source: Source,
    to: DsnOpt = None,
    target_schema: LiveSchemaOpt = None,
    then: Annotated[str | None, typer.Option("--then", help="A command run while the "
                                             "source's writers wait (e.g. the one that "
                                             "restarts the application on PostgreSQL).")
                    ] = None,
) -> None:
    """Catch up, verify every table, take SQLite's write lock, apply the rest, verify the
    rows changed since, run --then, and let the writers go: the write pause is reported."""
    from transfer import sync as sync_mod
    from transfer import target

    try:
        done = sync_mod.cutover(source, target.resolve_dsn(to), target_schema, then,
                                lambda m: typer.echo(m, err=True))
    except TransferError as e:
        _fail(e)
        return
    typer.echo(f"cut over at change {done.final}: every table verified equal at change "
               f"{done.verified_at}, and the {done.changed_rows} rows changed since ("
               f"{done.window_rows} in the window); the application's writes paused "
               f"{done.pause:.3f} s")
    if done.then:
        typer.echo(f"sqlite2pg: error: --then exited {done.then}; the target is complete, "
                   "check the application.", err=True)
        raise typer.Exit(int(ExitCode.FAILED))


@app.command()
def status(to: DsnOpt = None) -> None:
    """List the runs recorded in the target: state, progress, what can be resumed or rolled
    back; and staging schemas no run accounts for. Writes nothing."""
    from transfer import runs, target
    from transfer.pipeline import resume_command

    try:
        dsn = target.resolve_dsn(to)
        found, orphans = runs.status(dsn)
    except TransferError as e:
        _fail(e)
        return
    if not found and not orphans:
        typer.echo("no runs recorded in this database")
    for r in found:
        typer.echo(f"run {r.run.run_id}  {r.label}  started {r.run.started_at:%Y-%m-%d %H:%M:%S}"
                   f"  into schema {r.run.target_schema}")
        typer.echo(f"    source {r.run.source}")
        typer.echo(f"    tables copied {r.tables_done}/{len(r.run.tables)}, rows {r.rows_copied}"
                   + (f"; staging schema {r.run.staging_schema}" if r.label in
                      ("running", "interrupted") else "")
                   + (f"; replaced tables kept in {r.run.backup_schema}"
                      if r.backup_kept and r.run.state == "switched" else ""))
        if r.run.message:
            typer.echo(f"    {r.run.message}")
        if r.late_changes:
            typer.echo(f"    {r.late_changes} changes reached the source after the cutover: "
                       "an application still writes to SQLite ('sqlite2pg sync' can carry "
                       "them)")
        if r.label == "interrupted" or (r.run.state == "switched" and r.verify_pending):
            typer.echo(f"    resume with: {resume_command(Path(r.run.source), dsn)}")
        elif r.hint:
            typer.echo(f"    {r.hint}")
    for name in orphans:
        typer.echo(f"leftover staging schema {name} (no run record): 'sqlite2pg clean' drops it")


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Go ahead without asking (needed "
                                      "when stdin is not a terminal).")]


def _confirm(summary: str, details: list[str], yes: bool) -> bool:
    """Whether to go ahead with what ``summary`` says: yes with --yes, else asked on the
    terminal after ``details``; off a terminal, refused (exit 64)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        typer.echo(f"sqlite2pg: error: this would {summary}; stdin is not a terminal to ask, "
                   "so add --yes to go ahead.", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    typer.echo(f"This would {summary}:", err=True)
    for line in details:
        typer.echo(f"  {line}", err=True)
    typer.echo("Go ahead? [y/N] ", err=True, nl=False)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    typer.echo("nothing changed")
    return False


@app.command()
def rollback(
    to: DsnOpt = None,
    target_schema: Annotated[str, typer.Option("--target-schema", help="Schema the run "
                                               "switched into.")] = "public",
    yes: YesOpt = False,
) -> None:
    """Switch back the last switch-over: its tables move aside (into
    sqlite2pg_rolledback_RUN), the tables it replaced come back; one transaction. Shows
    what it would do and asks first."""
    from transfer import runs, target

    try:
        dsn = target.resolve_dsn(to)
        preview = runs.rollback_preview(dsn, target_schema)
        details = [f"{r.label(target_schema)} -> {preview.aside}" for r in preview.moving]
        if preview.restoring:
            details += [f"{r.label(preview.restoring.name)} -> {target_schema}"
                        for r in preview.restoring.relations]
        if _confirm(str(preview), details, yes):
            typer.echo(runs.rollback(dsn, target_schema, preview.run.run_id))
    except TransferError as e:
        _fail(e)


@app.command()
def clean(
    to: DsnOpt = None,
    backups: Annotated[bool, typer.Option("--backups", help="Also drop the schemas kept for "
                                          "rollback (rollback is then impossible); asks "
                                          "first.")] = False,
    yes: YesOpt = False,
) -> None:
    """Drop leftover staging schemas of failed or interrupted runs (they cannot be resumed
    afterwards) and, after asking, the schemas rollbacks set aside; keep the schemas
    holding the tables runs replaced, unless --backups (asked too)."""
    from transfer import runs, target

    try:
        dsn = target.resolve_dsn(to)
        preview = runs.clean_preview(dsn, backups)
        if preview.asks and not _confirm(str(preview), [f"drop {s}" for s in preview.drop],
                                         yes):
            return
        dropped = runs.clean(dsn, backups, [s.name for s in preview.drop])
    except TransferError as e:
        _fail(e)
        return
    shown = {s.name: s for s in preview.drop}
    for name in dropped:
        typer.echo(f"dropped schema {shown[name]}")
    for s in preview.keep:
        back = "; 'sqlite2pg rollback' restores them" if s.run_id else ""
        typer.echo(f"kept schema {s.name} ({s.purpose}{back}; 'clean --backups' drops them)")
    if not dropped and not preview.keep:
        typer.echo("nothing to clean")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sqlite2pg {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Print the version.")] = False,
) -> None:
    """sqlite2pg: plan, run and verify a SQLite -> PostgreSQL cutover."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        from transfer.progress import clear_terminal_line

        clear_terminal_line()
        typer.echo("sqlite2pg: interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as e:
        # A bug rather than bad input: said so in one line, and exit 2 ("could not do the
        # job"), never 1, which a pipeline reads as "the data differs".
        if os.environ.get("SQLITE2PG_DEBUG"):
            raise
        from transfer.progress import clear_terminal_line
        from transfer.target import redact

        clear_terminal_line()

        typer.echo(f"sqlite2pg: internal error ({type(e).__name__}: "
                   f"{redact(str(e)).splitlines()[0] if str(e) else ''}); this is a bug: "
                   "please report it with the output of the same command run with "
                   "SQLITE2PG_DEBUG=1.", err=True)
        sys.exit(int(ExitCode.FAILED))


# Defaults that depend on the machine or the environment, as the reference states them.
_DEFAULT_TEXT = {"jobs": "the number of CPUs, at most 4 (SQLITE2PG_JOBS)",
                 "sample": "0 (SQLITE2PG_SAMPLE)"}


def reference_markdown() -> str:
    """The CLI reference (docs/cli.md), generated from the commands themselves."""
    group = typer.main.get_command(app)
    commands: dict[str, Any] = getattr(group, "commands", {})
    lines = ["# sqlite2pg command-line reference", "",
             "Generated from the commands' own definitions by `scripts/cli_reference`; a "
             "test fails when it is stale. Exit codes: see the README.", ""]
    listed: list[tuple[str, Any]] = []
    for name, cmd in commands.items():  # (a group's own commands after it: capture start...)
        listed.append((name, cmd))
        listed += [(f"{name} {sub}", c) for sub, c in getattr(cmd, "commands", {}).items()]
    for name, cmd in listed:
        args = " ".join(str(p.name).upper() for p in cmd.params
                        if p.param_type_name == "argument")
        lines += [f"## sqlite2pg {name} {args}".rstrip(), "", (cmd.help or "").strip(), ""]
        options = [p for p in cmd.params if p.param_type_name != "argument"]
        if not options:
            continue
        lines += ["| option | default | meaning |", "|---|---|---|"]
        for p in options:
            opts = ", ".join(f"`{o}`" for o in p.opts)
            if p.name in _DEFAULT_TEXT:
                default = _DEFAULT_TEXT[p.name]
            elif p.is_flag or p.default is None:
                default = ""
            else:
                default = f"`{getattr(p.default, 'value', p.default)}`"
            text = (p.help or "").replace("|", "\\|")
            lines.append(f"| {opts} | {default} | {text} |")
        lines.append("")
    return "\n".join(lines)
