"""The command line: a thin typed layer over the library.

Each command calls one library function. ``TransferError`` becomes its one-sentence
message on stderr and its exit code; nothing prints a traceback.
"""

from __future__ import annotations

import sys
from enum import Enum
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


class PlanFormat(str, Enum):
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
