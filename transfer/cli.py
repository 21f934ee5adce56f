"""The command line: a thin typed layer over the library.

Each command calls one library function. ``TransferError`` becomes its one-sentence
message on stderr and its exit code; nothing prints a traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from transfer import __version__
from transfer.errors import ExitCode, TransferError
from transfer.settings import JOBS, SAMPLE_ROWS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Move a SQLite database into PostgreSQL: schema, data, keys and indexes, "
    "lossless or loud.",
)


class PlanFormat(StrEnum):
    text = "text"
    sql = "sql"
    json = "json"


def _fail(e: TransferError) -> None:
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
) -> None:
    """Preview the PostgreSQL schema and every type decision; needs no PostgreSQL.

    Exit code 1 when the plan has blockers (what 'run' would fail on).
    """
    from transfer import ddl, report
    from transfer import plan as plan_mod
    from transfer.typemap import load_type_map

    try:
        p = plan_mod.build_plan(source, load_type_map(type_map), _casts(cast), sample, JOBS)
        if output is not None:
            plan_mod.save_plan(p, output)
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


class IfExists(StrEnum):
    FAIL = "fail"
    REPLACE = "replace"


DsnOpt = Annotated[str, typer.Option("--to", help="PostgreSQL DSN: postgresql://user@host/db "
                                     "or 'host=... dbname=...'; PG* variables and .pgpass apply.",
                                     show_default=False)]


@app.command()
def run(
    source: Source,
    to: DsnOpt,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Execute this reviewed plan "
                                                   "file instead of planning afresh.")] = None,
    target_schema: Annotated[str, typer.Option("--target-schema", help="Schema that receives "
                                               "the tables.")] = "public",
    if_exists: Annotated[IfExists, typer.Option("--if-exists", help="fail: refuse when tables "
                                                "of the same names exist; replace: swap them "
                                                "out into a dated schema.")] = IfExists.FAIL,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel connections for "
                                      "profiling and post-data.")] = JOBS,
    include: Annotated[list[str] | None, typer.Option("--include", help="Only tables matching "
                                                      "this glob (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip tables matching "
                                                      "this glob (repeatable).")] = None,
    schema_only: Annotated[bool, typer.Option("--schema-only", help="Create the schema, copy "
                                              "no rows.")] = False,
    data_only: Annotated[bool, typer.Option("--data-only", help="Copy rows into existing "
                                            "tables.")] = False,
    report_file: Annotated[Path | None, typer.Option("--report", help="Write the summary as "
                                                     "JSON to this file.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the "
                                        "summary.")] = False,
    type_map: TypeMapOpt = None,
    cast: CastOpt = None,
    sample: SampleOpt = SAMPLE_ROWS,
) -> None:
    """Migrate SOURCE into PostgreSQL: schema, rows, keys, indexes; atomic.

    Loads into a staging schema and switches it in at the end, so a failure leaves the
    target as it was.
    """
    import json
    import time

    from transfer import pipeline
    from transfer.typemap import load_type_map

    if schema_only and data_only:
        typer.echo("sqlite2pg: error: --schema-only and --data-only exclude each other; "
                   "choose one.", err=True)
        raise typer.Exit(int(ExitCode.USAGE))

    def log(msg: str) -> None:
        if not quiet:
            typer.echo(msg, err=True)

    try:
        start = time.perf_counter()
        log(f"STEP 1  plan {source}" + (f" (from {plan_file})" if plan_file else ""))
        p = pipeline.plan_for_run(source, plan_file, type_map=load_type_map(type_map),
                                  casts=_casts(cast), sample=sample, jobs=jobs)
        planned = time.perf_counter() - start
        opts = pipeline.RunOptions(dsn=to, target_schema=target_schema,
                                   if_exists=if_exists.value, jobs=jobs,
                                   include=include or [], exclude=exclude or [],
                                   schema_only=schema_only, data_only=data_only)
        result = pipeline.run(source, p, opts, log)
    except TransferError as e:
        _fail(e)
        return
    result.steps["plan"] = planned
    result.steps["total"] = result.steps.get("total", 0.0) + planned
    typer.echo(f"{'table':<32} {'rows':>10} {'MiB':>8} {'seconds':>8}")
    for r in result.tables:
        typer.echo(f"{r.table:<32} {r.rows:>10} {r.bytes / 2**20:>8.1f} {r.seconds:>8.2f}")
    total_rows = sum(r.rows for r in result.tables)
    typer.echo(f"{'total':<32} {total_rows:>10} "
               f"{sum(r.bytes for r in result.tables) / 2**20:>8.1f} "
               f"{result.steps['total']:>8.2f}")
    typer.echo("steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.steps.items()))
    if result.backup_schema:
        typer.echo(f"replaced tables were kept in schema {result.backup_schema}")
    for n in p.not_carried:
        log(f"not carried over: {n}")
    if report_file is not None:
        report = {"source": str(source), "target_schema": target_schema,
                  "tables": [r.__dict__ for r in result.tables], "steps": result.steps,
                  "backup_schema": result.backup_schema,
                  "warnings": [str(w) for w in p.warnings],
                  "not_carried": [str(n) for n in p.not_carried]}
        report_file.write_text(json.dumps(report, indent=2) + "\n")


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
        typer.echo("sqlite2pg: interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
