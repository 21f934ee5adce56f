"""The plan: every decision about the target as plain data (JSON), so that ``plan
--output`` can save it, a reviewer can read and edit it, and ``run --plan`` executes it as
reviewed; and the checks that make a plan file (or a plan stored in the target) safe to
execute: every field that reaches a statement is validated before use.

The decisions themselves are made in ``transfer.plan``; the copier, post-data and verify
read only this model.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from transfer import pgtypes
from transfer.errors import PlanError, UsageError
from transfer.settings import PG_MAX_IDENTIFIER_BYTES
from transfer.sqltext import quote_ident

PLAN_FORMAT = 3
# The conversions a plan may name (transfer.convert implements each; and decimal(p,s)).
CONVERSIONS = ("int64", "int32", "int16", "float64", "bool", "text", "bytes", "timestamp",
               "timestamptz", "epoch_timestamp", "epoch_timestamptz", "epoch_ms_timestamp",
               "epoch_ms_timestamptz", "date", "jsonb", "text_int64", "text_int32",
               "text_int16", "text_float64", "uuid_text", "time_text", "rails_time_text",
               "inet_text", "numeric_text")
# Conversions that load a column as text, changed to its type after the copy (the type reads
# the text itself: uuid, inet, time, numeric without precision)
LOADED_AS_TEXT = ("uuid_text", "time_text", "rails_time_text", "inet_text", "numeric_text")
ORDERS = ("tenant", "source")  # row orders of the copy (see Plan.ordered)


def pg_identifier(name: str) -> str:
    """``name`` if it fits PostgreSQL's 63 bytes; else a deterministic shortened name."""
    raw = name.encode("utf-8")
    if len(raw) <= PG_MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:8]
    keep = raw[: PG_MAX_IDENTIFIER_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{keep}_{digest}"


class NameSpace:
    """Relation names of one schema: tables, views, indexes and sequences share it."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def claim(self, wanted: str) -> str:
        name = pg_identifier(wanted)
        n = 1
        while name in self.used:
            suffix = f"_{n}"
            name = pg_identifier(wanted)
            raw = name.encode()[: PG_MAX_IDENTIFIER_BYTES - len(suffix)]
            name = raw.decode("utf-8", errors="ignore") + suffix
            n += 1
        self.used.add(name)
        return name


# What a decision changes (Note.kind): a type, a name, a key, an index, a constraint, a
# value on its way, an object not carried, a blocker.
KINDS = ("type", "name", "key", "index", "check", "foreign key", "default", "view", "value",
         "not carried", "blocker")


@dataclass
class Note:
    """A blocker or a decision: what, where, and (for data) which rows."""

    table: str
    column: str | None
    message: str
    rows: list[str] = field(default_factory=list)
    kind: str = ""  # one of KINDS

    def __str__(self) -> str:
        where = self.table + (f".{self.column}" if self.column else "")
        rows = f" (rows: {', '.join(self.rows)})" if self.rows else ""
        return f"{where}: {self.message}{rows}"


@dataclass
class ColumnPlan:
    name: str
    pg_name: str
    declared: str
    pg_type: str
    reason: str
    select: str  # SQLite expression producing one storage class (see copier)
    convert: str  # Arrow conversion to the COPY wire type (see convert.CONVERTERS)
    nullable: bool = True
    default: str | None = None  # SQLite's default expression (carried: see transfer.ddl)
    identity: bool = False
    sequence_name: str | None = None
    decision: str | None = None  # set when the type differs from the rule's preference
    storage: dict[str, int] = field(default_factory=dict)
    cast: str | None = None  # the type forced by --cast: the profile did not choose it
    # the conversion the profile found every value fits, when it chose it (not for a --cast,
    # nor after an edit of the plan file changed ``convert``): see ``profiled``
    verified: str | None = None
    collation: str | None = None  # SQLite's collation of the column (NOCASE, RTRIM)

    @property
    def profiled(self) -> bool:
        """The profile tried this column's conversion on every value and chose it."""
        return self.verified is not None and self.verified == self.convert


@dataclass
class TermPlan:
    """An index term as SQLite has it: a column or an expression, its collation, order."""

    column: str | None  # SQLite column name (None: an expression)
    expression: str | None = None  # SQLite expression
    desc: bool = False
    collation: str | None = None  # NOCASE, RTRIM (None: BINARY)


@dataclass
class IndexPlan:
    name: str
    pg_name: str
    unique: bool
    terms: list[TermPlan]
    where: str | None  # SQLite predicate of a partial index
    constraint: bool  # ADD CONSTRAINT ... UNIQUE (plain column list, no WHERE)


@dataclass
class CheckPlan:
    pg_name: str
    source: str  # SQLite expression
    not_valid: bool = False  # rows already violate it (SQLite did not check them)


@dataclass
class ForeignKeyPlan:
    pg_name: str
    columns: list[str]  # PG column names
    ref_table: str  # PG table name
    ref_columns: list[str]
    on_update: str
    on_delete: str
    deferrable: str
    not_valid: bool = False


@dataclass
class TablePlan:
    name: str
    pg_name: str
    columns: list[ColumnPlan]
    rows: int
    kind: str = "table"
    pk: list[str] = field(default_factory=list)  # PG column names
    pk_name: str | None = None
    sequence_floor: int | None = None  # sqlite_sequence value
    indexes: list[IndexPlan] = field(default_factory=list)
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)
    checks: list[CheckPlan] = field(default_factory=list)
    tenant_key: str | None = None  # PG column referencing the tenant root
    # SQLite column the copy groups rows by (the tenant key): rows are read in (it, rowid)
    # order, so that each tenant's rows land together; None: rowid order
    tenant_order: str | None = None
    rowid: str | None = None  # a name of the rowid no column shadows; None: WITHOUT ROWID

    def column(self, name: str) -> ColumnPlan:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass
class ViewPlan:
    name: str
    pg_name: str
    source: str  # SQLite's SELECT (translated by transfer.ddl)
    depends: list[str] = field(default_factory=list)  # SQLite tables and views it reads



def selected(name: str, include: list[str], exclude: list[str]) -> bool:
    """Whether ``--include``/``--exclude`` select table ``name`` (its SQLite name): it
    matches an ``include`` glob (any name when none is given) and no ``exclude`` glob."""
    return (not include or any(fnmatch.fnmatchcase(name, g) for g in include)) \
        and not any(fnmatch.fnmatchcase(name, g) for g in exclude)

@dataclass
class Plan:
    format: int
    source: dict[str, Any]
    tables: list[TablePlan]
    views: list[ViewPlan]
    blockers: list[Note]
    warnings: list[Note]
    not_carried: list[Note]  # triggers, SQLite-only views and checks, skipped tables

    @property
    def uses_citext(self) -> bool:
        """Some column is citext (a COLLATE NOCASE column): the target needs the extension."""
        return any(c.pg_type == "citext" for t in self.tables for c in t.columns)

    def table(self, name: str) -> TablePlan:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    def select(self, include: list[str], exclude: list[str],
               flags: tuple[str, str] = ("--include", "--exclude")) -> Plan:
        """The plan of the tables whose SQLite names match an ``include`` glob (all when
        none is given) and no ``exclude`` glob. A glob matching no table is a usage error
        (a typo must not pass as a migration of nothing). What depends on a table left out
        (a view reading it, a foreign key to it) is left out too, each named in
        ``not_carried``."""
        for flag, globs in zip(flags, (include, exclude), strict=True):
            for g in globs:
                if not any(fnmatch.fnmatchcase(t.name, g) for t in self.tables):
                    names = ", ".join(t.name for t in self.tables[:12])
                    raise UsageError(f"{flag} {g!r} matches no table; the tables are: "
                                     f"{names or 'none'}{' ...' if len(self.tables) > 12 else ''}"
                                     ".")

        left_out = {t.name for t in self.tables if not selected(t.name, include, exclude)}
        if not left_out:
            return self
        kept = {t.pg_name for t in self.tables if t.name not in left_out}
        notes = list(self.not_carried)
        tables = []
        for t in self.tables:
            if t.name in left_out:
                continue
            fks = []
            for fk in t.foreign_keys:
                if fk.ref_table in kept:
                    fks.append(fk)
                else:
                    notes.append(Note(t.name, None, f"foreign key {fk.pg_name} is left out: it "
                                      f"refers to {fk.ref_table}, which the selection leaves "
                                      "out", kind="not carried"))
            tables.append(replace(t, foreign_keys=fks))
        views = []
        for v in self.views:
            missing = [d for d in v.depends if d in left_out]
            if missing:
                left_out.add(v.name)
                notes.append(Note(v.name, None, f"view is left out: it reads {', '.join(missing)}"
                                  ", which the selection leaves out", kind="not carried"))
            else:
                views.append(v)
        blockers = [b for b in self.blockers if b.table not in left_out]
        return Plan(self.format, self.source, tables, views, blockers, self.warnings, notes)

    def ordered(self, order: str) -> Plan:
        """The plan copying rows in ``order``: ``tenant`` (each table with a tenant key in
        (tenant key, rowid) order) or ``source`` (rowid order, the fastest read)."""
        if order not in ORDERS:
            raise PlanError(f"unknown row order {order!r}; use one of {', '.join(ORDERS)}.")
        tables = []
        for t in self.tables:
            key = None
            if order == "tenant" and t.tenant_key and t.rowid is not None:
                key = next(c.name for c in t.columns if c.pg_name == t.tenant_key)
            tables.append(replace(t, tenant_order=key))
        return replace(self, tables=tables)


READ_FORMS = ("stored", "real", "text", "exact_text", "blob", "exact_blob", "decimal")


def read_as(form: str, q: str, scale: int | None = None) -> str:
    """The SQLite expression reading the quoted column ``q`` in ``form``."""
    if form == "stored":
        return q
    if form == "real":
        return f"CAST({q} AS REAL)"
    if form == "text":
        return f"CAST({q} AS TEXT)"
    if form == "exact_text":
        return text_of(q)
    if form == "blob":
        return f"CAST({q} AS BLOB)"
    if form == "exact_blob":
        return f"CAST({text_of(q)} AS BLOB)"
    if form == "decimal" and scale is not None:
        return (f"CASE typeof({q}) WHEN 'real' THEN printf('%.{int(scale)}f', {q}) "
                f"ELSE CAST({q} AS TEXT) END")
    raise ValueError(form)


def text_of(q: str) -> str:
    """SQLite's text of any value, -0.0 included (CAST gives '0.0': the sign would be lost;
    atan2 tells the zeros apart)."""
    return (f"CASE WHEN typeof({q}) = 'real' AND {q} = 0.0 AND atan2({q}, -1.0) < 0 "
            f"THEN '-0.0' ELSE CAST({q} AS TEXT) END")


def save_plan(plan: Plan, path: Path) -> None:
    path.write_text(plan.to_json() + "\n", encoding="utf-8")


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise PlanError(f"cannot read plan file {path}: {e.strerror}; check the path.") from None
    except json.JSONDecodeError as e:
        raise PlanError(f"plan file {path} is not valid JSON ({e}); regenerate it with "
                        "'sqlite2pg plan --output'.") from None
    return checked_plan(data, f"plan file {path}")


def stored_plan(data: dict[str, Any], run_id: str) -> Plan:
    """The plan a run recorded in the target, checked exactly as a plan file is (anyone who
    can write the bookkeeping table could have changed it)."""
    return checked_plan(data, f"the plan recorded for run {run_id}")


def checked_plan(data: Any, where: str) -> Plan:
    """A plan from its JSON form, every field checked before any of it reaches a statement:
    PostgreSQL types by their grammar, read expressions and conversions against the forms
    this tool writes, enumerations against their values, numbers as numbers."""
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise PlanError(f"{where} has format {found!r}, this version reads {PLAN_FORMAT}; "
                        "regenerate it with 'sqlite2pg plan --output'.")
    try:
        plan = plan_from_dict(data)
        _check(plan)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise PlanError(f"{where} is missing or has unexpected fields ({e}); regenerate it "
                        "with 'sqlite2pg plan --output'.") from None
    except PlanError as e:
        raise PlanError(f"{where}: {e}") from None
    return plan


FK_ACTIONS = ("NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT", "")
FK_DEFERRABLE = ("", "DEFERRABLE", "NOT DEFERRABLE", "DEFERRABLE INITIALLY DEFERRED",
               "DEFERRABLE INITIALLY IMMEDIATE", "NOT DEFERRABLE INITIALLY IMMEDIATE",
               "INITIALLY DEFERRED", "INITIALLY IMMEDIATE")
_ROWIDS = ("rowid", "_rowid_", "oid")


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise PlanError(what)


def _name(value: Any, what: str) -> None:
    _need(isinstance(value, str) and bool(value) and "\x00" not in value
          and len(value.encode()) <= PG_MAX_IDENTIFIER_BYTES,
          f"{what} {value!r} is not a PostgreSQL name (1 to 63 bytes)")


def allowed_reads(name: str, conversion: str) -> set[str]:
    """The read expressions this tool writes for column ``name`` read for ``conversion``."""
    q = quote_ident(name)
    dec = decimal_of(conversion)
    scale = dec[1] if dec else None
    return {read_as(f, q, scale) for f in READ_FORMS if f != "decimal" or dec} | {
        n for n in _ROWIDS if n == name}


DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")  # the conversion to numeric(p,s)
STORAGE = ("null", "integer", "real", "text", "blob")


def decimal_of(conversion: str) -> tuple[int, int] | None:
    """(precision, scale) of a ``decimal(p,s)`` conversion, else None."""
    m = DECIMAL.fullmatch(conversion)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _conversion_fits(c: ColumnPlan, where: str) -> None:
    """The conversion writes what the type holds (an edited numeric(10,1) with a decimal(10,2)
    conversion would round silently)."""
    dec = decimal_of(c.convert)
    typ = pgtypes.parse(c.pg_type)
    if dec is not None:
        _need(1 <= dec[0] <= 76 and 0 <= dec[1] <= dec[0] and typ == pgtypes.PgType(
            "numeric", dec), f"{where}: conversion {c.convert} does not write {c.pg_type}")
        return
    _need(c.convert in CONVERSIONS, f"{where}: unknown conversion {c.convert!r}")
    if typ.name in ("timestamp", "timestamptz", "time", "timetz", "interval"):
        _need(typ.mods in ((), (6,)), f"{where}: {c.pg_type} would round the microseconds "
              "the conversion writes")
    if typ.name == "numeric":
        _need(not typ.mods, f"{where}: {c.pg_type} needs a decimal({','.join(map(str, typ.mods))})"
              " conversion")


def _check(plan: Plan) -> None:
    _need(isinstance(plan.source, dict) and isinstance(plan.source.get("path", ""), str),
          "its source is not an object with a path")
    for t in plan.tables:
        _name(t.pg_name, f"table {t.name!r}: name")
        _need(isinstance(t.name, str) and isinstance(t.rows, int), f"table {t.name!r}: name "
              "and rows")
        _need(t.rowid is None or t.rowid in _ROWIDS, f"table {t.name!r}: rowid {t.rowid!r}")
        _need(t.sequence_floor is None or type(t.sequence_floor) is int,
              f"table {t.name!r}: sequence_floor {t.sequence_floor!r} is not an integer")
        names = {c.name for c in t.columns}
        pg_names = {c.pg_name for c in t.columns}
        _need(t.tenant_order is None or t.tenant_order in names,
              f"table {t.name!r}: tenant_order {t.tenant_order!r} is not a column")
        _need(t.tenant_key is None or t.tenant_key in pg_names,
              f"table {t.name!r}: tenant_key {t.tenant_key!r} is not a column")
        for c in t.columns:
            where = f"column {t.name}.{c.name}"
            _name(c.pg_name, f"{where}: name")
            c.pg_type = pgtypes.canonical(c.pg_type, f"{where}: type")
            _need(isinstance(c.nullable, bool) and isinstance(c.identity, bool),
                  f"{where}: nullable and identity are true or false")
            _conversion_fits(c, where)
            _need(isinstance(c.storage, dict) and all(
                k in STORAGE and type(n) is int for k, n in c.storage.items()),
                f"{where}: storage counts are not those of SQLite's storage classes")
            _need(c.select in allowed_reads(c.name, c.convert),
                  f"{where}: the read expression {c.select!r} is not one this tool writes")
            if c.sequence_name is not None or c.identity:
                _name(c.sequence_name, f"{where}: sequence")
        for k in [*t.pk, *(col for fk in t.foreign_keys for col in fk.columns)]:
            _need(k in pg_names, f"table {t.name!r}: key column {k!r} is not a column")
        if t.pk_name is not None:
            _name(t.pk_name, f"table {t.name!r}: primary key name")
        for ix in t.indexes:
            _name(ix.pg_name, f"table {t.name!r}: index name")
            _need(isinstance(ix.unique, bool) and isinstance(ix.constraint, bool),
                  f"index {ix.pg_name!r}: unique and constraint are true or false")
        for fk in t.foreign_keys:
            _name(fk.pg_name, f"table {t.name!r}: foreign key name")
            _need(fk.on_update in FK_ACTIONS and fk.on_delete in FK_ACTIONS
                  and fk.deferrable in FK_DEFERRABLE and isinstance(fk.not_valid, bool),
                  f"foreign key {fk.pg_name!r}: its actions are not PostgreSQL's")
            parent = next((p for p in plan.tables if p.pg_name == fk.ref_table), None)
            _need(parent is not None and all(r in {c.pg_name for c in parent.columns}
                                             for r in fk.ref_columns),
                  f"foreign key {fk.pg_name!r}: it refers to no table or column of the plan")
        for ck in t.checks:
            _name(ck.pg_name, f"table {t.name!r}: check name")
        for ix in t.indexes:
            for term in ix.terms:
                _need(term.column is None or term.column in names,
                      f"index {ix.pg_name!r}: {term.column!r} is not a column")
                _need(isinstance(term.desc, bool), f"index {ix.pg_name!r}: desc is true or "
                      "false")
    for v in plan.views:
        _name(v.pg_name, f"view {v.name!r}: name")
    # every expression (defaults, checks, index terms and predicates, views) carried through
    # the translator, as the run will: one that it refuses is refused here
    from transfer import ddl

    ddl.pre_data(plan)
    ddl.post_data(plan)


def revised(old: Plan, new: Plan) -> Plan:
    """``new`` as the plan of a resumed run that loaded with ``old``: the copied rows must
    mean the same, so tables, columns, types and reads must be ``old``'s; keys, indexes,
    checks, foreign keys and views (post-data) may differ."""
    def shape(p: Plan) -> list[Any]:
        return [(t.name, t.pg_name, t.rowid, t.tenant_order,
                 [(c.name, c.pg_name, c.pg_type, c.select, c.convert, c.nullable, c.identity,
                   c.default) for c in t.columns]) for t in p.tables]

    if shape(old) != shape(new):
        raise PlanError("the revised plan changes tables, columns or their types, which the "
                        "rows already copied were loaded with; revise only keys, indexes, "
                        "checks, foreign keys and views, or start a new run without --resume.")
    return new




def plan_from_dict(data: dict[str, Any]) -> Plan:
    """A plan from its JSON form (raises KeyError or TypeError when malformed)."""
    tables = []
    for t in data["tables"]:
        t = dict(t)
        t["columns"] = [ColumnPlan(**c) for c in t["columns"]]
        t["indexes"] = [IndexPlan(**{**i, "terms": [TermPlan(**x) for x in i["terms"]]})
                        for i in t["indexes"]]
        t["foreign_keys"] = [ForeignKeyPlan(**f) for f in t["foreign_keys"]]
        t["checks"] = [CheckPlan(**c) for c in t["checks"]]
        tables.append(TablePlan(**t))
    return Plan(format=PLAN_FORMAT, source=data["source"], tables=tables,
                views=[ViewPlan(**v) for v in data["views"]],
                blockers=[Note(**n) for n in data["blockers"]],
                warnings=[Note(**n) for n in data["warnings"]],
                not_carried=[Note(**n) for n in data["not_carried"]])
