"""Stage 2, plan: every decision about the target, made from the schema and the data.

``build_plan`` reads the catalog, profiles the data, and decides for each table and column
the PostgreSQL name and type, how the value is read from SQLite (``select``) and converted
on its way to COPY (``convert``), defaults, keys, indexes, foreign keys and checks (the
last four, with the order of the tables and the views, in ``transfer.plankeys``). What
``run`` would fail on is a blocker; what would change is a warning. The plan it returns is
plain data (``transfer.model``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from transfer import catalog as catalog_mod
from transfer import faults, reader, source, targetconv, timetext, translate
from transfer import profile as profile_mod
from transfer.catalog import Catalog, Column, Table
from transfer.errors import PlanError
from transfer.model import (
    CONVERSIONS,
    PLAN_FORMAT,
    ColumnPlan,
    NameSpace,
    Note,
    Plan,
    TablePlan,
    pg_identifier,
    read_as,
)
from transfer.plankeys import KeyPlanner
from transfer.profile import ColumnProfile, TableProfile, predicate
from transfer.progress import Progress
from transfer.progress import off as progress_off
from transfer.settings import PG_MAX_COLUMNS
from transfer.sqltext import quote_ident
from transfer.typemap import TypeMap, framework_rules, load_type_map, preferred_type


def source_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": os.fspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


NOCASE_CHOICES = ("citext", "text")


def build_plan(path: Path, type_map: TypeMap | None = None,
               casts: dict[str, str] | None = None, sample: int = 0, jobs: int = 2,
               nocase: str = "citext", progress: Progress | None = None) -> Plan:
    """Read, profile and decide. Needs no PostgreSQL. ``nocase``: the type of COLLATE
    NOCASE text columns, citext (equality and LIKE ignore case, as in SQLite) or text;
    ``progress``: shows the tables profiled."""
    if nocase not in NOCASE_CHOICES:
        raise PlanError(f"--nocase {nocase!r}: use one of {', '.join(NOCASE_CHOICES)}.")
    type_map = type_map or load_type_map()
    casts = casts or {}
    conn = source.open_source(path)
    ident = source_identity(path)
    ident["snapshot"] = source.snapshot_identity(path)  # before profiling: see copier
    ident["sampled"] = bool(sample)
    # The profile reads through two SQLite libraries (Python's and the Arrow driver's). A
    # library opening a WAL database's shared memory first in this process would reset it
    # under the other (SQLite cannot see locks of its own process): both open it here, one
    # after the other, and keep it open until the profile is done.
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    anchor = reader.connect(path)
    anchor_cur = anchor.cursor()
    anchor_cur.execute("SELECT count(*) FROM sqlite_master")
    anchor_cur.fetchall()
    anchor_cur.close()
    anchor.commit()
    try:
        cat = catalog_mod.read_catalog(conn)
        framework = targetconv.load_rules().framework_of({t.name for t in cat.tables})
        type_map = with_framework(type_map, framework.name if framework else None)
        kinds: dict[str, dict[str, str]] = {}
        numeric: dict[str, dict[str, tuple[int, int]]] = {}
        for t in cat.tables:
            kinds[t.name] = {}
            for c in t.columns:
                rule, params = type_map.rule_for(c.declared, checked_by(t, c))
                kinds[t.name][c.name] = rule.kind
                if rule.kind == "numeric" and params:
                    numeric.setdefault(t.name, {})[c.name] = (params["p"], params["s"])
        _check_casts(cat, casts)
        _profile_casts(cat, casts, kinds, numeric)
        profiles = profile_mod.profile_all(path, cat, kinds, numeric, sample, jobs,
                                           progress or progress_off())
        reader.release_memory()
        faults.pause("plan")
        return Planner(conn, cat, profiles, type_map, casts, ident, nocase).plan()
    finally:
        anchor.close()
        conn.close()


def plan_live(path: Path, plan: Plan) -> None:
    """What a live cutover can follow: the tables with a key; each other is a blocker. Each
    application write to a followed table also writes one row of the change log (its cost
    is measured in the README)."""
    from transfer import capture

    conn = source.open_source(path)
    try:
        followed, refused = capture.followable(catalog_mod.read_catalog(conn).tables)
    finally:
        conn.close()
    for name, why in refused:
        plan.blockers.append(Note(name, None, f"a live cutover cannot follow it: {why}; "
                                  "--exclude it from a live run", kind="blocker"))
    plan.warnings.append(Note("(live)", None, f"a live cutover follows {len(followed)} tables:"
                              " each write to one also writes a row of sqlite2pg_changes, in "
                              "the same transaction (see the README for its measured cost)",
                              kind="value"))
    if (journal := capture.journal_warning(path)) is not None:
        plan.warnings.append(Note("(live)", None, journal, kind="value"))


def with_framework(type_map: TypeMap, framework: str | None) -> TypeMap:
    """``type_map`` with the rules of the framework the file shows (type_maps/FRAMEWORK.toml)
    after the user's own and before the defaults."""
    extra = framework_rules(framework)
    if not extra:
        return type_map
    users = tuple(r for r in type_map.rules if r.source != "default")
    defaults = tuple(r for r in type_map.rules if r.source == "default")
    return TypeMap(users + tuple(extra) + defaults, type_map.fallbacks)


def checked_by(t: Table, c: Column) -> tuple[str, ...]:
    """The functions the table's CHECKs call on column ``c`` (JSON_VALID: Django's
    JSONField)."""
    name = re.escape(c.name)
    return tuple(f for f in ("json_valid",) if any(
        re.search(rf"{f}\s*\(\s*[\"`\[]?{name}\b", check, re.IGNORECASE) for check in t.checks))


def _rowid_name(t: Table) -> str | None:
    if t.without_rowid:
        return None
    taken = {c.name.lower() for c in t.columns}
    return next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)


def _check_casts(cat: Catalog, casts: dict[str, str]) -> None:
    """Each --cast names a column of the source and a PostgreSQL type (by its grammar: the
    type is written into statements); the type is kept in its canonical spelling."""
    from transfer import pgtypes

    for key, forced in casts.items():
        casts[key] = pgtypes.canonical(forced, f"--cast {key}")
        table, _, column = key.partition(".")
        try:
            cat.table(table).column(column)
        except KeyError:
            raise PlanError(f"--cast {key}: no such table.column in the source; use "
                            "the SQLite names as 'plan' lists them.") from None


CONVERSIONS_BUT_BYTES = [c for c in CONVERSIONS if c != "bytes"] + ["decimal"]
# The profile kind whose trials tell whether the values fit a --cast type.
CAST_KINDS = {"timestamp": "timestamp", "timestamptz": "timestamp", "date": "date",
              "jsonb": "json", "json": "json", "boolean": "boolean", "numeric": "numeric",
              "bigint": "int_text", "integer": "int_text", "smallint": "int_text",
              "double precision": "real_text"}


def cast_base(forced: str) -> str:
    """The type name of a --cast type, lower case, without its modifiers."""
    return forced.lower().split("(")[0].strip()


def cast_numeric(forced: str) -> tuple[int, int] | None:
    """(precision, scale) of a numeric(p,s) --cast type, else None."""
    m = re.match(r"numeric\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", forced.lower())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _profile_casts(cat: Catalog, casts: dict[str, str], kinds: dict[str, dict[str, str]],
                   numeric: dict[str, dict[str, tuple[int, int]]]) -> None:
    """Have the profile try each --cast type on its column's values, so that ``plan``
    predicts the values ``run`` would stop on."""
    for key, forced in casts.items():
        table, _, column = key.partition(".")
        t = cat.table(table)
        c = t.column(column)
        base = cast_base(forced)
        if base in CAST_KINDS:
            kinds[t.name][c.name] = CAST_KINDS[base]
        ps = cast_numeric(forced)
        if ps:
            numeric.setdefault(t.name, {})[c.name] = ps


# Values a conversion refuses, as the profile's named predicates (for example rows when
# the profile's SQL path, which counts rather than tries, found them).
_FITS_SQL = {"json": ["json_valid"], "jsonb": ["json_valid"],
             "bool": ["bool_int", "bool_text"]}


def _misfit_sql(conversion: str, column: str) -> str:
    fits = " OR ".join(predicate(p, column) for p in _FITS_SQL.get(conversion, []))
    if conversion == "jsonb":
        fits = f"({fits}) AND NOT {predicate('json_nul', column)}"
    return f"{quote_ident(column)} IS NOT NULL AND NOT ({fits})"


class Planner(KeyPlanner):
    def __init__(self, conn: Any, cat: Catalog, profiles: dict[str, TableProfile],
                 type_map: TypeMap, casts: dict[str, str], ident: dict[str, Any],
                 nocase: str = "citext") -> None:
        self.nocase = nocase
        framework = targetconv.load_rules().framework_of({t.name for t in cat.tables})
        self.framework = framework.name if framework else None  # (its naming habits)
        self.conn = conn
        self.cat = cat
        self.profiles = profiles
        self.type_map = type_map
        self.casts = casts
        self.ident = ident
        self.blockers: list[Note] = []
        self.warnings: list[Note] = []
        self.not_carried: list[Note] = []
        self.names = NameSpace()

    # -- the whole plan -----------------------------------------------------------------
    def plan(self) -> Plan:
        for name, why in self.cat.skipped:
            self.not_carried.append(Note(name, None, why, kind="not carried"))
        if self.framework == "django":
            self.warnings.append(Note("(the file)", None, "made by Django: types are chosen as "
                                      "Django's PostgreSQL backend makes them where the file "
                                      "tells (type_maps/django.toml: uuid, inet, time, "
                                      "timestamptz, jsonb, numeric); it cannot tell a "
                                      "DurationField from a BigIntegerField (both stay "
                                      "bigint), a DecimalField's digits (numeric without "
                                      "them), nor USE_TZ (timestamptz); the exact route is "
                                      "Django's migrate, then run --data-only", kind="type"))
        tables = [self.plan_table(t) for t in self.cat.tables]
        by_name = {t.name: t for t in tables}
        for t in self.cat.tables:
            self.plan_nocase(t, by_name[t.name])
        for t in self.cat.tables:
            self.plan_keys(t, by_name[t.name])
        for t in self.cat.tables:
            self.plan_foreign_keys(t, by_name)
        ordered = self.order(tables)
        views = self.plan_views(by_name)
        for trig in self.cat.triggers:
            self.not_carried.append(Note(trig.table, None, f"trigger {trig.name} is not carried "
                                         "over; rewrite it as a PostgreSQL trigger function",
                                         kind="not carried"))
        return Plan(format=PLAN_FORMAT, source=self.ident, tables=ordered, views=views,
                    blockers=self.blockers, warnings=self.warnings,
                    not_carried=self.not_carried).ordered("tenant")

    # -- tables and columns -------------------------------------------------------------
    def plan_table(self, t: Table) -> TablePlan:
        prof = self.profiles[t.name]
        pg_name = self.names.claim(t.name)
        if pg_name != t.name:
            self.warnings.append(Note(t.name, None, f"renamed to {pg_name!r}: PostgreSQL names "
                                      "are at most 63 bytes or the name was taken", kind="name"))
        if len(t.columns) > PG_MAX_COLUMNS:
            self.blockers.append(Note(t.name, None, f"has {len(t.columns)} columns; PostgreSQL "
                                      f"allows at most {PG_MAX_COLUMNS}: split the table "
                                      "before migrating or --exclude it", kind="blocker"))
        if t.unreadable:
            self.blockers.append(Note(t.name, None, f"virtual table ({t.module}) that SQLite "
                                      f"itself cannot read ({t.unreadable}): its module or its "
                                      "content table is missing; --exclude it, or restore "
                                      "what it needs", kind="blocker"))
        elif t.kind == "virtual":
            self.warnings.append(Note(t.name, None, f"virtual table ({t.module}): its rows are "
                                      "copied into a plain table; the index itself is not "
                                      "carried (use tsvector/GIN for full text)", kind="type"))
        used_cols: set[str] = set()
        plans = []
        for c in t.columns:
            cp = prof.columns.get(c.name, ColumnProfile())
            col_plan = self.plan_column(t, c, cp)
            pg_col = pg_identifier(c.name)
            while pg_col in used_cols:
                pg_col = pg_identifier(pg_col + "_")
            used_cols.add(pg_col)
            col_plan.pg_name = pg_col
            if pg_col != c.name:
                self.warnings.append(Note(t.name, c.name, f"renamed to {pg_col!r} (PostgreSQL "
                                          "names are at most 63 bytes)", kind="name"))
            plans.append(col_plan)
        rowid = _rowid_name(t)
        if t.kind == "virtual" and rowid:
            # A virtual table's rowid is data (an FTS5 row points at its document by it).
            pg_col = "rowid" if "rowid" not in used_cols else pg_identifier("sqlite_rowid")
            plans.insert(0, ColumnPlan(name=rowid, pg_name=pg_col, declared="(rowid)",
                                       pg_type="bigint", reason="the virtual table's rowid",
                                       select=rowid, convert="int64", nullable=False,
                                       storage={"integer": prof.rows}))
            self.warnings.append(Note(t.name, None, f"its rowid is kept as column {pg_col!r}, "
                                      "the primary key", kind="key"))
        tp = TablePlan(name=t.name, pg_name=pg_name, columns=plans, rows=prof.rows, kind=t.kind,
                       sequence_floor=t.sequence, rowid=rowid)
        if t.kind == "virtual" and rowid:
            tp.pk = [plans[0].pg_name]
            tp.pk_name = self.names.claim(f"{pg_name}_pkey")
        if t.rowid_alias and not t.without_rowid:
            col = tp.column(t.rowid_alias)
            if col.pg_type in ("bigint", "integer", "smallint"):
                col.identity = True
                col.sequence_name = self.names.claim(f"{pg_name}_{col.pg_name}_seq")
                col.nullable = False
        return tp

    def plan_column(self, t: Table, c: Column, cp: ColumnProfile) -> ColumnPlan:
        rule, params = self.type_map.rule_for(c.declared, checked_by(t, c))
        q = quote_ident(c.name)
        storage = {k: cp.n(k) for k in ("null", "integer", "real", "text", "blob") if cp.n(k)}
        plan = ColumnPlan(name=c.name, pg_name=c.name, declared=c.declared, pg_type="",
                          reason=rule.reason, select=q, convert="text", storage=storage)
        forced = self.casts.get(f"{t.name}.{c.name}")
        preferred = preferred_type(rule.pg, params) or ""
        # (a rule asking for numeric itself, as a framework's does: not numeric(p,s) without
        # its parameters, which holds integers as bigint)
        bare = rule.kind == "numeric" and rule.pg == "numeric"
        chosen = self.choose(rule.kind, preferred, params, c, cp, t, forced, bare)
        plan.pg_type, plan.select, plan.convert, plan.decision = chosen
        if not forced and (cp.ok(plan.convert) or (plan.convert == "text"
                                                   and not cp.unholdable_text)):
            plan.verified = plan.convert
        if forced:
            plan.reason = f"--cast {t.name}.{c.name}={forced}"
            plan.cast = forced
            tried = "json" if forced.lower().strip() == "json" else plan.convert
            misfit = cp.fits.get(tried) is False  # the profile tried it: a value failed
            if plan.convert.startswith("decimal") and cp.numeric_fit is not None:
                misfit = cp.numeric_fit < cp.non_null
            rows = cp.fail_rows.get(tried) or (self.rows_where(t, c, _misfit_sql(tried, c.name))
                                               if misfit and tried in _FITS_SQL else [])
            for cls, refused in (("real", ("int64", "int32", "int16", "text_int64",
                                           "text_int32", "text_int16")),
                                 ("blob", tuple(CONVERSIONS_BUT_BYTES))):
                # (a real is no integer, nor is its text 1.0; bytes are no number or text)
                if cp.n(cls) and plan.convert in refused:
                    misfit = True
                    rows = rows or self.rows_where(t, c, predicate(cls, c.name))
            if misfit:
                self.blockers.append(Note(t.name, c.name, f"--cast {forced}: some values do "
                                          "not convert, so run would stop; cast to another "
                                          "type or fix the rows",
                                          rows, kind="blocker"))
        if plan.decision:
            rows = list(dict.fromkeys(r for rs in cp.fail_rows.values() for r in rs))[:3]
            if cp.invalid_utf8_example:
                rows.insert(0, cp.invalid_utf8_example)
            self.warnings.append(Note(t.name, c.name, plan.decision, rows,
                                      kind="value" if plan.convert.startswith("epoch")
                                      or plan.pg_type == "timestamptz" else "type"))
        if c.is_generated:
            self.warnings.append(Note(t.name, c.name, f"generated column ({c.generated}) becomes "
                                      "a plain column holding the computed values", kind="type"))
        plan.nullable = not c.notnull
        if c.notnull and cp.n("null"):
            plan.nullable = False
            self.blockers.append(Note(t.name, c.name, f"is NOT NULL but {cp.n('null')} rows hold "
                                      "NULL", self.rows_where(t, c, predicate("null", c.name)),
                                      kind="blocker"))
        plan.collation = c.collation if c.collation in ("NOCASE", "RTRIM") else None
        _pg, why = translate.default(c.default, plan.pg_type, c.declared)
        plan.default = c.default if why is None else None
        if why:
            if c.notnull:
                why += (" (the column is NOT NULL: an INSERT that leaves it out will fail in "
                        "PostgreSQL; give the value, or set a default after the migration)")
            self.warnings.append(Note(t.name, c.name, why, kind="default"))
        return plan

    def choose(self, kind: str, preferred: str, params: dict[str, int], c: Column,
               cp: ColumnProfile, t: Table, forced: str | None, bare: bool = False
               ) -> tuple[str, str, str, str | None]:
        """(pg type, select expression, conversion, decision or None)."""
        q = quote_ident(c.name)
        classes = cp.classes
        only = set(classes)
        if forced:
            return self.forced(forced, c, cp, t)
        if kind == "boolean" and preferred:
            if only <= {"integer"} or only <= {"text"}:
                if not only or cp.ok("bool"):
                    return "boolean", q, "bool", None
        elif kind == "integer" and preferred:
            if only <= {"integer"}:
                conv = {"smallint": "int16", "integer": "int32"}.get(preferred, "int64")
                if conv != "int64" and only and not cp.ok(conv):
                    return "bigint", q, "int64", (f"declared {c.declared} but holds values from "
                                                  f"{cp.int_min} to {cp.int_max}: bigint")
                return preferred, q, conv, None
        elif kind == "real" and preferred:
            if only <= {"integer", "real"} and not cp.n("int_beyond_double"):
                sel = read_as("real" if cp.n("integer") else "stored", q)
                return "double precision", sel, "float64", None
        elif kind == "numeric" and preferred:
            if params and only <= {"integer", "real"} and cp.numeric_fit == cp.non_null:
                p, s = params["p"], params["s"]
                if 1 <= p <= 76 and 0 <= s <= p:
                    return f"numeric({p},{s})", read_as("decimal", q, s), f"decimal({p},{s})", \
                        None
            if not params and bare and only <= {"integer", "real"} \
                    and not cp.n("real_infinite"):
                # (a framework's numeric without its precision: each value exactly)
                return "numeric", read_as("exact_text", q), "numeric_text", None
            if not params and only <= {"integer"}:
                return "bigint", q, "int64", None
        elif kind in ("uuid", "time", "rails_time", "inet") and preferred:
            if only <= {"text"} and (not only or cp.ok(f"{kind}_text")):
                return preferred, q, f"{kind}_text", None
        elif kind == "text" and preferred:
            if only <= {"text"}:
                if preferred.startswith("varchar") and "n" in params:
                    if (cp.text_max_chars or 0) > params["n"]:
                        return "text", q, "text", (f"declared {c.declared} but holds values of up "
                                                   f"to {cp.text_max_chars} characters: text")
                return preferred, q, "text", None
        elif kind == "timestamp" and preferred:
            if not only:
                return preferred, q, preferred, None
            if only <= {"text"}:
                if preferred == "timestamp" and cp.ok("timestamp"):
                    return "timestamp", q, "timestamp", None
                if cp.ok("timestamptz"):
                    note = None if preferred == "timestamptz" else (
                        "holds ISO times with UTC offsets: timestamptz (values without an "
                        "offset are taken as UTC)")
                    return "timestamptz", q, "timestamptz", note
            elif only <= {"integer"}:
                pg = "timestamptz" if preferred == "timestamptz" else "timestamp"
                what = "time" if pg == "timestamptz" else "wall time"
                for conv, unit in ((f"epoch_{pg}", "seconds"), (f"epoch_ms_{pg}",
                                                                "milliseconds")):
                    if cp.ok(conv):
                        return (pg, q, conv, f"holds epoch {unit} (from {cp.int_min} to "
                                f"{cp.int_max}): converted to the UTC {what}")
                return ("bigint", q, "int64", f"declared {c.declared} but holds integers from "
                        f"{cp.int_min} to {cp.int_max}, which are not clearly epoch seconds "
                        f"({timetext.EPOCH_UNITS['s'][0]} to {timetext.EPOCH_UNITS['s'][1]}) "
                        "or milliseconds: kept as numbers (bigint)")
        elif kind == "date" and preferred:
            if only <= {"text"} and (not only or cp.ok("date")):
                return "date", q, "date", None
        elif kind == "json" and preferred:
            if only <= {"text"} and (not only or cp.ok("jsonb")):
                return "jsonb", q, "jsonb", None
            if only <= {"text"} and cp.ok("json"):
                return "json", q, "text", ("holds JSON that jsonb would reject (\\u0000) or "
                                           "change (an object with duplicate keys): json, "
                                           "kept as written")
        elif kind == "blob" and preferred:
            if only <= {"blob"}:
                return "bytea", q, "bytes", None
        # The preferred type cannot hold every value (or the kind is decided by the data).
        fb = self.type_map.fallback_for(classes)
        pg = fb.pg
        sel, conv = _fallback_read(pg, q, classes)
        decision = None
        if kind != "any" or len(classes) > 1:
            found = ", ".join(f"{cp.n(k)} {k}" for k in ("integer", "real", "text", "blob")
                              if cp.n(k))
            extra = ""
            if cp.unholdable_text:
                extra = " (text with NUL bytes or invalid UTF-8 counts as blob)"
            want = preferred or "its affinity"
            if pg != preferred:
                decision = f"declared {c.declared or 'untyped'} ({want}) but stores {found}" \
                           f"{extra}: {pg} ({fb.reason})"
        return pg, sel, conv, decision

    def forced(self, forced: str, c: Column, cp: ColumnProfile, t: Table
               ) -> tuple[str, str, str, str | None]:
        q = quote_ident(c.name)
        base = cast_base(forced)
        conv = {"bigint": "int64", "integer": "int32", "smallint": "int16",
                "double precision": "float64", "boolean": "bool", "text": "text",
                "varchar": "text", "bytea": "bytes", "timestamp": "timestamp",
                "timestamptz": "timestamptz", "date": "date", "jsonb": "jsonb", "json": "text",
                "numeric": "decimal"}.get(base)
        if conv is None:
            raise PlanError(f"--cast {t.name}.{c.name}={forced}: unsupported type; use one of "
                            "bigint, integer, smallint, double precision, boolean, text, "
                            "varchar(n), bytea, timestamp, timestamptz, date, json, jsonb, "
                            "numeric(p,s).")
        sel = q
        if conv in ("int64", "int32", "int16", "float64") and (cp.n("text") or cp.n("blob")):
            # numbers written as text: read as text, converted by the number grammar
            # (CAST(x AS INTEGER) would read '12abc' as 12, CAST(x AS REAL) 'abc' as 0)
            conv = f"text_{conv}"
            sel = read_as("exact_text" if conv == "text_float64" else "text", q)
        elif conv == "text":
            sel = read_as("exact_text", q)
        elif conv == "bytes":
            sel = read_as("blob", q)
        elif conv == "float64":
            sel = read_as("real", q)
        elif conv == "decimal":
            ps = cast_numeric(forced)
            if ps is None:
                raise PlanError(f"--cast {t.name}.{c.name}={forced}: give numeric a precision "
                                "and scale, e.g. numeric(12,2).")
            p, s = ps
            conv = f"decimal({p},{s})"
            sel = read_as("decimal", q, s)
        return forced, sel, conv, None

    def rows_where(self, t: Table, c: Column, where: str) -> list[str]:
        label = profile_mod.row_label(t)
        return [f"{label}={ref}" for ref, _v in profile_mod.examples(self.conn, t, where, c.name)]


# How the copy reads a column from SQLite: each form's expression over the quoted column
# name (one storage class out, see transfer.reader); a plan file may hold only these.
def _fallback_read(pg: str, q: str, classes: list[str]) -> tuple[str, str]:
    if pg == "bigint":
        return q, "int64"
    if pg == "double precision":
        return read_as("real" if "integer" in classes else "stored", q), "float64"
    if pg == "bytea":
        if classes == ["blob"]:
            return q, "bytes"
        return read_as("exact_blob" if "real" in classes else "blob", q), "bytes"
    if set(classes) <= {"text"}:
        return q, "text"
    return read_as("exact_text" if "real" in classes else "text", q), "text"


