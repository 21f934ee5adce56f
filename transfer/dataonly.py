"""Loading into the application's own schema (``run --data-only``): the route the frameworks
recommend. The schema is the one the application's migrations made (``manage.py
migrate``, ``alembic upgrade``, ``rails db:schema:load``, ``prisma migrate deploy``); its
column types decide how each value is carried (``transfer.targetconv``).

    plan    read the target's tables from PostgreSQL's catalog; match tables and columns by
            name; a conversion for each (source values, target type); profile every value
            through it: what cannot be carried is a blocker naming its rows
    load    into staging tables of the target's own types (committed in chunks with the
            run's progress: a resumed run continues), then one transaction: the target
            tables emptied if --truncate, the rows inserted parents first, sequences moved
            past the ids loaded and sqlite_sequence, deferred foreign keys and CHECKs checked
            at its commit. Killed or refused, the target is as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from transfer import catalog as catalog_mod
from transfer import faults, reader, state, target, targetconv
from transfer import source as source_mod
from transfer.catalog import Table
from transfer.errors import BlockersFound, DataError, PlanError, TargetError, UsageError
from transfer.model import ColumnPlan, Note, Plan, TablePlan, selected
from transfer.progress import Progress
from transfer.progress import off as progress_off
from transfer.settings import BATCH_ROWS, CHUNK_ROWS, STAGING_PREFIX
from transfer.sqltext import quote_ident

# -- the target's tables ------------------------------------------------------------------
_COLUMNS_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', t.typtype,
       format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid),
                   CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END),
       coalesce(bt.typtype, t.typtype),
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
        WHERE e.enumtypid = coalesce(nullif(t.typbasetype, 0), a.atttypid)),
       pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = nullif(t.typbasetype, 0)
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""


@dataclass
class TargetColumn:
    name: str
    type: str  # as format_type writes it
    notnull: bool
    has_default: bool  # a default or an identity
    generated: bool
    target: targetconv.Target
    sequence: str | None  # an identity's or serial's sequence


def _target(base_type: str, typtype: str, labels: list[str] | None) -> targetconv.Target:
    """What a conversion needs of a column of ``base_type`` (format_type text)."""
    if typtype == "e":
        return targetconv.Target("enum", labels=tuple(labels or ()))
    mods = [int(m) for m in re.findall(r"\d+", base_type)]
    base = re.sub(r"\(\d+(,\d+)?\)", "", base_type).strip()
    bits = {"smallint": 16, "integer": 32}.get(base, 64)
    return targetconv.Target(
        base, length=mods[0] if base in ("character varying", "character") and mods else None,
        precision=(mods[0], mods[1] if len(mods) > 1 else 0) if base == "numeric" and mods
        else None, bits=bits)


def read_target(conn: target.Conn, schema: str) -> dict[str, dict[str, TargetColumn]]:
    """Every table of ``schema``: its columns, by name."""
    tables: dict[str, dict[str, TargetColumn]] = {}
    for (table, name, typ, notnull, has_default, generated, typtype, base, base_typtype,
         labels, sequence) in conn.execute(_COLUMNS_SQL, (schema,)).fetchall():
        tables.setdefault(table, {})[name] = TargetColumn(
            name, typ, notnull, has_default, generated,
            _target(base, base_typtype if typtype == "d" else typtype, labels), sequence)
    return tables


# -- the plan -----------------------------------------------------------------------------
@dataclass
class Fit:
    source: str  # SQLite column
    target: str  # PostgreSQL column
    type: str  # its type, as format_type writes it
    conversion: str
    spec: targetconv.Target


@dataclass
class TableFit:
    name: str  # SQLite table
    target: str  # PostgreSQL table
    fits: list[Fit]
    rows: int
    rowid: str | None  # None: WITHOUT ROWID (copied in key order)
    label: str  # how a row is named: its rowid alias, or rowid
    sequences: list[tuple[str, str]]  # (column, sequence) of identities and serials
    sequence_floor: int | None  # sqlite_sequence's value
    target_rows: int = 0


@dataclass
class DataPlan:
    source: str
    schema: str
    tables: list[TableFit]
    blockers: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    framework: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["data_only"] = True
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _match(wanted: str, names: list[str]) -> str | None:
    if wanted in names:
        return wanted
    folded = [n for n in names if n.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def plan_into(source: Path, dsn: str, schema: str = "public", include: list[str] | None = None,
              exclude: list[str] | None = None, interval_unit: str | None = None,
              truncate: bool = False, profile: bool = True) -> DataPlan:
    """Match the source's tables and columns with the target's and profile every value
    through its conversion; what the load would fail on is a blocker, with rows."""
    rules = targetconv.load_rules()
    conn = source_mod.open_source(source)
    try:
        cat = catalog_mod.read_catalog(conn)
    finally:
        conn.close()
    framework = rules.framework_of({t.name for t in cat.tables})
    unit = interval_unit or (framework.interval if framework else None)
    day = framework.time_date if framework else None
    with target.connect(dsn, autocommit=True) as pg:
        try:
            found = read_target(pg, schema)
        except psycopg.Error as e:
            raise target.describe(e, dsn, "reading the target's tables") from None
        plan = DataPlan(str(source.resolve()), schema, [],
                        framework=framework.name if framework else None)
        chosen = _parents_first(_chosen(cat.tables, include or [], exclude or []))
        for t in chosen:
            fit = _fit_table(t, found, schema, rules, unit, day, plan)
            if fit is not None:
                count = pg.execute(sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(schema, fit.target))).fetchone()
                fit.target_rows = int(count[0]) if count else 0
                if fit.target_rows and not truncate:
                    plan.blockers.append(Note(t.name, None, f"{schema}.{fit.target} already "
                                              f"holds {fit.target_rows} rows (e.g. made by "
                                              "the migrations); --truncate empties it in the "
                                              "load's own transaction", kind="blocker"))
                plan.tables.append(fit)
        if truncate:
            _truncatable(pg, schema, plan)
    if profile:
        _profile(source, plan)
    return plan


def _chosen(tables: list[Table], include: list[str], exclude: list[str]) -> list[Table]:
    import fnmatch

    for flag, globs in (("--include", include), ("--exclude", exclude)):
        for g in globs:
            if not any(fnmatch.fnmatchcase(t.name, g) for t in tables):
                raise UsageError(f"{flag} {g!r} matches no table.")
    return [t for t in tables if selected(t.name, include, exclude)
            and t.kind == "table" and not t.unreadable]


def _parents_first(tables: list[Table]) -> list[Table]:
    """Parents before children (a foreign key that is not deferrable checks each row as it
    is inserted); cycles in name order (their keys must be deferrable anyway)."""
    names = {t.name for t in tables}
    parents = {t.name: {fk.ref_table for fk in t.foreign_keys
                        if fk.ref_table in names and fk.ref_table != t.name} for t in tables}
    done: list[Table] = []
    remaining = sorted(tables, key=lambda t: t.name)
    while remaining:
        ready = [t for t in remaining if parents[t.name] <= {d.name for d in done}]
        pick = ready[0] if ready else remaining[0]
        done.append(pick)
        remaining.remove(pick)
    return done


def _fit_table(t: Table, found: dict[str, dict[str, TargetColumn]], schema: str,
               rules: targetconv.Rules, unit: str | None, day: str | None,
               plan: DataPlan) -> TableFit | None:
    name = _match(t.name, list(found))
    if name is None:
        plan.blockers.append(Note(t.name, None, f"there is no table {t.name!r} in schema "
                                  f"{schema!r}: run the application's migrations first, or "
                                  "--exclude it", kind="blocker"))
        return None
    columns = found[name]
    fits = []
    for c in t.columns:
        col = _match(c.name, list(columns))
        if col is None:
            plan.blockers.append(Note(t.name, c.name, f"has no column in {schema}.{name}: its "
                                      "values would be lost", kind="blocker"))
            continue
        tc = columns[col]
        if tc.generated:
            plan.warnings.append(Note(t.name, c.name, "is a generated column in PostgreSQL: "
                                      "not loaded, PostgreSQL computes it", kind="value"))
            continue
        rule = rules.rule_for(tc.target.base)
        if rule is None:
            plan.blockers.append(Note(t.name, c.name, f"its target column is {tc.type}, into "
                                      "which no conversion is known here; --exclude the "
                                      "table and load it otherwise", kind="blocker"))
            continue
        spec = tc.target
        if rule.conversion == "interval":
            spec = targetconv.Target(spec.base, interval=unit)
        elif rule.conversion == "time" and day:
            spec = targetconv.Target(spec.base, time_date=day)
        fits.append(Fit(c.name, col, tc.type, rule.conversion, spec))
    loaded = {f.target for f in fits}
    for tc in columns.values():
        if tc.name not in loaded and tc.notnull and not tc.has_default and not tc.generated:
            plan.blockers.append(Note(t.name, None, f"{schema}.{name}.{tc.name} is NOT NULL "
                                      "with no default, and the source has no column for "
                                      "it", kind="blocker"))
    rowid = None if t.without_rowid else next(
        (n for n in ("rowid", "_rowid_", "oid") if n not in {c.name.lower() for c in t.columns}),
        None)
    label = t.rowid_alias or (t.pk[0] if t.without_rowid and t.pk else "rowid")
    return TableFit(t.name, name, fits, 0, rowid, label,
                    [(c.name, c.sequence) for c in columns.values() if c.sequence],
                    t.sequence)


def _truncatable(pg: target.Conn, schema: str, plan: DataPlan) -> None:
    """--truncate empties only the tables loaded: one that another table references (not
    loaded) cannot be emptied without emptying that one too."""
    names = [t.target for t in plan.tables]
    rows = pg.execute(
        "SELECT DISTINCT p.relname, c.relname FROM pg_constraint k "
        "JOIN pg_class p ON p.oid = k.confrelid JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE k.contype = 'f' "
        "AND n.nspname = %s AND p.relname = ANY(%s) AND NOT c.relname = ANY(%s)",
        (schema, names, names)).fetchall()
    for parent, child in rows:
        plan.blockers.append(Note(parent, None, f"--truncate cannot empty {schema}.{parent}: "
                                  f"{child}, which is not loaded, refers to it; load {child} "
                                  "too, or empty it yourself", kind="blocker"))


def _read_query(t: TableFit, after: int | None = None) -> str:
    exprs = [(targetconv.tagged_expr(quote_ident(f.source)), "text") for f in t.fits]
    # (the row's name in messages: its rowid, or its first key column)
    exprs.append((f"quote({t.rowid if t.rowid else quote_ident(t.label)})", "text"))
    if t.rowid is None:
        return reader.typed_query(t.name, exprs)
    where = f"{t.rowid} > {int(after)}" if after is not None else None
    return reader.typed_query(t.name, [*exprs, (t.rowid, "integer")], where=where,
                              order_by=t.rowid)


def _converted(t: TableFit, batch: pa.RecordBatch
               ) -> tuple[list[pa.Array], list[tuple[str, int, str, str]]]:
    """The batch's columns as PostgreSQL input texts, and (column, row index, reason,
    value) of every value refused."""
    out, refused = [], []
    for i, f in enumerate(t.fits):
        arr, bad = targetconv.apply(f.conversion, f.spec, batch.column(i))
        out.append(arr)
        refused += [(f.source, k, why, str(batch.column(i)[k].as_py())) for k, why in bad]
    return out, refused


def _profile(source: Path, plan: DataPlan) -> None:
    """Every value through its conversion, as the load will: refusals become blockers."""
    with contextlib.closing(reader.connect(source)) as conn:
        reader.open_snapshot(conn)
        for t in plan.tables:
            rows = 0
            seen: dict[str, list[str]] = {}
            reasons: dict[str, str] = {}
            for batch in reader.batches(conn, _read_query(t), BATCH_ROWS):
                rows += batch.num_rows
                _out, refused = _converted(t, batch)
                keys = batch.column(len(t.fits))
                for column, k, why, _value in refused:
                    seen.setdefault(column, [])
                    reasons.setdefault(column, why)
                    if len(seen[column]) < 3:
                        seen[column].append(f"{t.label}={keys[k].as_py()}")
            t.rows = rows
            for column, where in seen.items():
                fit = next(f for f in t.fits if f.source == column)
                plan.blockers.append(Note(t.name, column, f"values its target column "
                                          f"({fit.type}) cannot take: {reasons[column]}",
                                          where, kind="blocker"))


# -- the load -----------------------------------------------------------------------------
def load(source: Path, plan: DataPlan, dsn: str, truncate: bool, resume: bool,
         log: Callable[[str], None], progress: Progress | None = None,
         stats: dict[str, tuple[int, float]] | None = None) -> dict[str, int]:
    """Load ``plan`` (blockers refused first); rows copied per table (``stats``: the bytes
    sent and seconds of each table copied by this call)."""
    if plan.blockers:
        first = plan.blockers[0]
        raise BlockersFound(f"the load has {len(plan.blockers)} blocker(s), first: {first}; "
                            "'sqlite2pg plan --data-only --to ...' lists them all.")
    lock = target.connect(dsn, autocommit=True)
    with lock:
        try:
            found = _resumable(lock, source, plan) if resume else None
            if found is not None:
                run_id, staging = found.run_id, found.staging_schema
                done = state.progress(lock, run_id)
                log(f"        resuming the load {run_id} from {staging}")
            else:
                source_mod.check_readable(source)
                staging = target.new_staging_name()
                run_id = staging.removeprefix(STAGING_PREFIX)
                with lock.transaction():
                    state.ensure(lock)
                    target.create_staging(lock, staging)
                    state.create_run(lock, run_id, str(source.resolve()),
                                     dict(source_mod.snapshot_identity(source)), plan.schema,
                                     staging, [t.target for t in plan.tables], [],
                                     plan.to_json(), {"data_only": True, "truncate": truncate,
                                                      "verify": True})
                state.try_lock(lock, run_id)
                done = {}
            try:
                meter = progress or progress_off()
                try:
                    copied = _copy(source, plan, dsn, staging, run_id, done, log, meter,
                                   {} if stats is None else stats)
                finally:
                    meter.stop()
                _finish(plan, dsn, staging, run_id, truncate, log)
            except (DataError, PlanError) as e:  # (the plan no longer holds: start again)
                with contextlib.suppress(psycopg.Error):
                    target.drop_schema(lock, staging)
                    state.set_state(lock, run_id, "failed", str(e), only_from="loading")
                raise
        except psycopg.Error as e:
            raise target.describe(e, dsn, "loading") from None
    return copied


def _resumable(conn: target.Conn, source: Path, plan: DataPlan) -> state.Run | None:
    for r in state.runs(conn, plan.schema):
        if r.source == str(source.resolve()) and r.state == "loading" and \
                r.options.get("data_only"):
            if source_mod.snapshot_identity(source) != r.source_identity:
                raise TargetError(f"{source} has changed since load {r.run_id} read it; start "
                                  "a new load without --resume ('sqlite2pg clean' drops the "
                                  "old staging tables).")
            if not state.try_lock(conn, r.run_id):
                raise TargetError(f"load {r.run_id} is still running in another process.")
            return r
    return None


def _copy(source: Path, plan: DataPlan, dsn: str, staging: str, run_id: str,
          done: dict[str, state.TableProgress], log: Callable[[str], None],
          meter: Progress, stats: dict[str, tuple[int, float]]) -> dict[str, int]:
    """Every table into its staging table (the target's types), from one snapshot; the
    bytes sent and seconds of each table copied now go to ``stats``."""
    copied: dict[str, int] = {}
    sent = 0
    meter.begin("copy", sum(t.rows for t in plan.tables), "rows")  # (load ends it)
    with contextlib.closing(reader.connect(source)) as src, \
            target.connect(dsn) as pg:
        reader.open_snapshot(src)
        if "pre-data" not in done:
            for t in plan.tables:
                pg.execute(sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
                    sql.Identifier(staging, t.target),
                    sql.SQL(", ").join(sql.Identifier(f.target) for f in t.fits) or sql.SQL("1"),
                    sql.Identifier(plan.schema, t.target)))
            state.mark_done(pg, run_id, "pre-data")
            pg.commit()
        for t in plan.tables:
            progress = done.get("table " + t.name, state.TableProgress())
            copied[t.name] = progress.rows
            if progress.done:
                continue
            log(f"        {t.name}: copying into {staging}.{t.target}")
            start, sent_before = time.perf_counter(), sent
            copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                sql.Identifier(staging, t.target),
                sql.SQL(", ").join(sql.Identifier(f.target) for f in t.fits))
            chunk = 0
            for batch in reader.batches(src, _read_query(t, progress.last_rowid), BATCH_ROWS):
                arrays, refused = _converted(t, batch)
                if refused:
                    column, k, why, value = refused[0]
                    key = batch.column(len(t.fits))[k].as_py()
                    raise DataError(f"table {t.name!r}, column {column!r}, row {t.label}={key}:"
                                    f" value {value[:80]!r} cannot be loaded: {why}; fix the "
                                    "value, or the target column, and run again.")
                if t.fits:
                    buf = io.BytesIO()
                    pacsv.write_csv(pa.RecordBatch.from_arrays(
                        arrays, names=[f"c{i}" for i in range(len(arrays))]), buf,
                        pacsv.WriteOptions(include_header=False, quoting_style="needed"))
                    with pg.cursor().copy(copy) as cp:
                        cp.write(buf.getvalue())
                    sent += buf.tell()
                progress.rows += batch.num_rows
                copied[t.name] = progress.rows
                meter.update("copy", sum(copied.values()), nbytes=sent, current=t.name)
                if t.rowid is not None:
                    progress.last_rowid = int(batch.column(len(t.fits) + 1)[-1].as_py())
                chunk += batch.num_rows
                if chunk >= CHUNK_ROWS:
                    pg.execute(state.progress_upsert(run_id, "table " + t.name, progress.rows,
                                                     progress.last_rowid, False))
                    pg.commit()
                    faults.pause(f"copy {t.name}")
                    chunk = 0
            pg.execute(state.progress_upsert(run_id, "table " + t.name, progress.rows,
                                             progress.last_rowid, True))
            pg.commit()
            stats[t.name] = (sent - sent_before, time.perf_counter() - start)
            meter.log(f"        copied {t.name}: {progress.rows:,} rows, "
                       f"{stats[t.name][0] / 2**20:,.1f} MiB sent, {stats[t.name][1]:.2f} s")
    return copied


def _finish(plan: DataPlan, dsn: str, staging: str, run_id: str, truncate: bool,
            log: Callable[[str], None]) -> None:
    """One transaction: the rows into the application's tables, sequences moved on,
    deferred constraints checked at its commit; then statistics, and staging dropped."""
    log(f"STEP 6  load into schema {plan.schema} (one transaction)")
    with target.connect(dsn) as pg:
        pg.execute("SET CONSTRAINTS ALL DEFERRED")
        names = [sql.Identifier(plan.schema, t.target) for t in plan.tables]
        if truncate and names:
            pg.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(names)))
        for t in plan.tables:
            row = pg.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(plan.schema, t.target))).fetchone()
            if row and row[0]:
                raise TargetError(f"{plan.schema}.{t.target} holds {row[0]} rows now (written "
                                  "since the plan?); nothing was loaded: --truncate, or empty "
                                  "it, then --resume.")
            cols = sql.SQL(", ").join(sql.Identifier(f.target) for f in t.fits)
            if t.fits:
                pg.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} "
                                   "FROM {}").format(sql.Identifier(plan.schema, t.target),
                                                     cols, cols,
                                                     sql.Identifier(staging, t.target)))
            for column, sequence in t.sequences:
                pg.execute(sql.SQL(
                    "SELECT setval({seq}::regclass, GREATEST((SELECT max({col}) FROM {tbl}), "
                    "{floor}, 1), (SELECT max({col}) FROM {tbl}) IS NOT NULL OR {floor} > 0)"
                ).format(seq=sql.Literal(sequence), col=sql.Identifier(column),
                         tbl=sql.Identifier(plan.schema, t.target),
                         floor=sql.Literal(int(t.sequence_floor or 0))))
        faults.pause("switch")
        state.set_state(pg, run_id, "switched")
        try:
            pg.commit()  # (deferred foreign keys and CHECKs are checked here)
        except psycopg.errors.IntegrityError as e:
            detail = getattr(e.diag, "message_detail", None) or ""
            raise TargetError(f"the load broke a constraint of the application's schema "
                              f"({target.redact(str(e).splitlines()[0])}"
                              f"{'; ' + target.redact(detail) if detail else ''}); nothing was "
                              "loaded, the rows wait in staging: fix the rows (or the "
                              "schema), then --resume.") from None
    with target.connect(dsn, autocommit=True) as pg:
        for t in plan.tables:
            pg.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(plan.schema, t.target)))
        target.drop_schema(pg, staging)


# -- verify through the target's types ------------------------------------------------------
def verify_plan(plan: DataPlan) -> Plan:
    """The model verify reads: each table with the target's names and types, and the
    conversion's name where verify needs its convention (an integer duration's unit)."""
    tables = []
    for t in plan.tables:
        cols = [ColumnPlan(name=f.source, pg_name=f.target, declared="", pg_type=f.type,
                           reason="", select=quote_ident(f.source),
                           convert=_convention(f)) for f in t.fits]
        tables.append(TablePlan(t.name, t.target, cols, t.rows, rowid=t.rowid,
                                pk=[f.target for f in t.fits if f.source == t.label]))
    return Plan(3, {"path": plan.source}, tables, [], [], plan.warnings, [])


def _convention(f: Fit) -> str:
    """The conversion, with the framework's convention verify needs (a duration's unit,
    the date a time of day is written on)."""
    if f.conversion == "interval":
        return f"interval:{f.spec.interval}"
    if f.conversion == "time" and f.spec.time_date:
        return f"time:{f.spec.time_date}"
    return f.conversion


def report_lines(plan: DataPlan) -> list[str]:
    out = [f"sqlite2pg plan --data-only for {plan.source} into schema {plan.schema}"
           + (f" (the file shows {plan.framework})" if plan.framework else ""), ""]
    for t in plan.tables:
        out.append(f"table {t.name} -> {plan.schema}.{t.target}  ({t.rows} rows"
                   + (f"; {t.target_rows} there now" if t.target_rows else "") + ")")
        width = max((len(f.source) for f in t.fits), default=0)
        for f in t.fits:
            out.append(f"  {f.source:<{width}}  -> {f.type}  [{f.conversion}]")
        out.append("")
    for title, notes in (("BLOCKERS (the load would fail on these)", plan.blockers),
                         ("DECISIONS", plan.warnings)):
        if notes:
            out += [f"{title}: {len(notes)}", *(f"  - {n}" for n in notes), ""]
    out.append(f"{len(plan.blockers)} blocker(s)." if plan.blockers else
               "No blockers: 'sqlite2pg run --data-only' can load it.")
    return out


