"""Stage 3, DDL: the plan rendered as PostgreSQL statements.

Pre-data creates the tables (columns, types, NOT NULL, defaults, identities); post-data
adds, after the load, primary keys, unique constraints, indexes, foreign keys, checks,
identity restarts and views. Statements are unqualified: ``run`` executes them with
``search_path`` set to its staging schema, and ``plan --format sql`` prints them for an
empty database.

Nothing of a plan reaches a statement as written: names are ``psycopg.sql`` identifiers,
types are written from their parsed parts (``transfer.pgtypes``), enumerations from fixed
words, and every expression (defaults, checks, index terms and predicates, views) is the
translation of SQLite's own text by ``transfer.sqlexpr`` and ``transfer.translate``, made
here, each time: a plan file holds SQLite's expressions, never PostgreSQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from psycopg import sql

from transfer import pgtypes, sqlexpr, sqlvalue, translate
from transfer.catalog import affinity
from transfer.errors import PlanError
from transfer.model import (
    FK_ACTIONS,
    FK_DEFERRABLE,
    LOADED_AS_TEXT,
    CheckPlan,
    ColumnPlan,
    IndexPlan,
    Plan,
    TablePlan,
    TermPlan,
)


def _r(c: sql.Composable) -> str:
    return c.as_string(None)


def ident(name: str) -> str:
    return _r(sql.Identifier(name))


@dataclass
class Statement:
    table: str | None  # PG table the statement belongs to (None for views)
    # "table", "primary key", "unique", "index", "foreign key", "check", "identity", "view"
    phase: str
    sql: str
    name: str | None = None  # the SQLite name of what it creates (views: to report them)


# -- expressions, translated from the plan's SQLite text -------------------------------
def table_info(t: TablePlan) -> sqlvalue.TableInfo:
    """What the translator knows of a table's columns: PostgreSQL names and types, SQLite
    affinity and collation, and the storage classes the data holds."""
    return sqlvalue.TableInfo(t.pg_name, {c.name.lower(): sqlvalue.ColumnInfo(
        c.pg_name, c.pg_type, affinity(c.declared), c.collation,
        frozenset(k for k, n in c.storage.items() if n and k != "null")) for c in t.columns})


T = TypeVar("T")


class NotCarried(PlanError):
    """An expression of the plan the translator refuses; ``reason`` says why."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} is not carried over ({reason}); plan again, or remove it "
                         "from the plan file.")
        self.reason = reason


def _carried(what: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except sqlexpr.NotPortable as e:
        raise NotCarried(what, str(e)) from None
    except RecursionError:  # (SQLite accepts expressions nested deeper than this parser)
        raise NotCarried(what, "nested too deeply to translate") from None
    except ValueError as e:  # (a literal Python cannot hold, e.g. thousands of digits)
        raise NotCarried(what, f"a literal that cannot be read ({e})") from None


def column_default(t: TablePlan, c: ColumnPlan) -> str | None:
    """The PostgreSQL default of a column, translated from SQLite's."""
    if c.default is None:
        return None
    pg, why = translate.default(c.default, c.pg_type, c.declared)
    if pg is None:
        raise PlanError(f"the default of {t.name}.{c.name} ({c.default}) is not carried over "
                        f"({why}); plan again, or set it to null in the plan file.")
    return pg


def index_term(t: TablePlan, ix: IndexPlan, term: TermPlan) -> str:
    """One key of an index as SQLite compares it: a NOCASE text folded as SQLite folds it
    (ASCII letters only), an RTRIM one trimmed; an expression translated."""
    if term.column is None:
        text = "(" + _carried(f"an expression of index {ix.name}", sqlexpr.translate_value,
                              term.expression or "", table_info(t)) + ")"
    else:
        c = t.column(term.column)
        col: sql.Composable = sql.Identifier(c.pg_name)
        base = c.pg_type.split("(")[0]
        texty = base in ("text", "varchar", "char", "citext")
        if base == "citext" and term.collation == "NOCASE" and not ix.unique:
            pass  # (citext compares ignoring case itself: the index serves its equality)
        elif texty and term.collation == "NOCASE":
            col = sqlvalue.ascii_fold(sql.SQL("{}::text").format(col) if base == "citext"
                                      else col)
        elif texty and term.collation == "RTRIM":
            col = sql.SQL("rtrim({}, ' ')").format(
                sql.SQL("{}::text").format(col) if base == "citext" else col)
        elif base == "citext" and ix.unique:
            col = sql.SQL("({}::text)").format(col)  # (SQLite's uniqueness is binary)
        text = _r(col) if isinstance(col, sql.Identifier) else f"({_r(col)})"
    return text + (" DESC" if term.desc else "")


def index_where(t: TablePlan, ix: IndexPlan) -> str | None:
    if ix.where is None:
        return None
    return _carried(f"the WHERE of index {ix.name}", sqlexpr.translate_predicate, ix.where,
                    table_info(t))


def check_expression(t: TablePlan, ck: CheckPlan) -> str:
    return _carried(f"CHECK ({ck.source}) of {t.name}", sqlexpr.translate_check, ck.source,
                    table_info(t))


# -- statements ------------------------------------------------------------------------
def create_table(t: TablePlan) -> Statement:
    cols = []
    for c in t.columns:
        typ = str(pgtypes.parse(c.pg_type, f"{t.name}.{c.name}"))
        as_text = c.convert in LOADED_AS_TEXT  # (its type and default come after the copy)
        parts = [ident(c.pg_name), "text" if as_text else typ]
        default = None if as_text else column_default(t, c)
        if c.identity:
            seq = f" (SEQUENCE NAME {ident(c.sequence_name)})" if c.sequence_name else ""
            parts.append(f"GENERATED BY DEFAULT AS IDENTITY{seq}")
        elif default is not None:
            parts.append(f"DEFAULT {default}")
        if not c.nullable and not c.identity:
            parts.append("NOT NULL")
        cols.append("    " + " ".join(parts))
    body = ",\n".join(cols)
    return Statement(t.pg_name, "table", f"CREATE TABLE {ident(t.pg_name)} (\n{body}\n)")


def retypes(t: TablePlan) -> list[Statement]:
    """Columns loaded as text, changed to their type once the rows are in (before any index):
    the type reads each text itself, as it would the application's."""
    out = []
    for c in t.columns:
        if c.convert in LOADED_AS_TEXT:
            typ = sql.SQL(str(pgtypes.parse(c.pg_type, f"{t.name}.{c.name}")))
            col = sql.Identifier(c.pg_name)
            default = column_default(t, c)
            out.append(Statement(t.pg_name, "retype", _r(sql.SQL(
                "ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                sql.Identifier(t.pg_name), col, typ, col, typ))))
            if default is not None:
                out.append(Statement(t.pg_name, "retype", f"ALTER TABLE {ident(t.pg_name)} "
                                     f"ALTER COLUMN {ident(c.pg_name)} SET DEFAULT {default}"))
    return out


def primary_key(t: TablePlan) -> list[Statement]:
    if not t.pk or not t.pk_name:
        return []
    cols = ", ".join(ident(c) for c in t.pk)
    return [Statement(t.pg_name, "primary key",
                      f"ALTER TABLE {ident(t.pg_name)} ADD CONSTRAINT {ident(t.pk_name)} "
                      f"PRIMARY KEY ({cols})")]


def _terms(t: TablePlan, ix: IndexPlan) -> str:
    return ", ".join(index_term(t, ix, term) for term in ix.terms)


def indexes(t: TablePlan) -> list[Statement]:
    out = []
    for ix in t.indexes:
        if ix.constraint:
            out.append(Statement(t.pg_name, "unique",
                                 f"ALTER TABLE {ident(t.pg_name)} ADD CONSTRAINT "
                                 f"{ident(ix.pg_name)} UNIQUE ({_terms(t, ix)})"))
            continue
        unique = "UNIQUE " if ix.unique else ""
        where = index_where(t, ix)
        out.append(Statement(t.pg_name, "index",
                             f"CREATE {unique}INDEX {ident(ix.pg_name)} ON {ident(t.pg_name)} "
                             f"({_terms(t, ix)})" + (f" WHERE {where}" if where else "")))
    return out


_ACTIONS = {a: a for a in FK_ACTIONS if a}
_DEFERRABLE = {d: d for d in FK_DEFERRABLE if d}


def foreign_keys(t: TablePlan) -> list[Statement]:
    out = []
    for fk in t.foreign_keys:
        text = (f"ALTER TABLE {ident(t.pg_name)} ADD CONSTRAINT {ident(fk.pg_name)} "
                f"FOREIGN KEY ({', '.join(ident(c) for c in fk.columns)}) "
                f"REFERENCES {ident(fk.ref_table)} ({', '.join(ident(c) for c in fk.ref_columns)})")
        for clause, action in (("ON UPDATE", fk.on_update), ("ON DELETE", fk.on_delete)):
            if action and action != "NO ACTION":
                text += f" {clause} {_known(_ACTIONS, action, fk.pg_name)}"
        if fk.deferrable:
            text += " " + _known(_DEFERRABLE, fk.deferrable, fk.pg_name)
        if fk.not_valid:
            text += " NOT VALID"
        out.append(Statement(t.pg_name, "foreign key", text))
    return out


def _known(words: dict[str, str], value: str, where: str) -> str:
    if value not in words:
        raise PlanError(f"foreign key {where}: {value!r} is not one of PostgreSQL's clauses.")
    return words[value]


def checks(t: TablePlan) -> list[Statement]:
    return [Statement(t.pg_name, "check", f"ALTER TABLE {ident(t.pg_name)} ADD CONSTRAINT "
                      f"{ident(ck.pg_name)} CHECK ({check_expression(t, ck)})"
                      + (" NOT VALID" if ck.not_valid else "")) for ck in t.checks]


def identity_restart(t: TablePlan) -> list[Statement]:
    """Restart each identity past both max(id) and sqlite_sequence (AUTOINCREMENT's floor)."""
    out = []
    for c in t.columns:
        if not c.identity:
            continue
        floor = sql.Literal(int(t.sequence_floor or 0))
        col = sql.Identifier(c.pg_name)
        tbl = sql.Identifier(t.pg_name)
        seq = sql.Literal(ident(c.sequence_name or ""))
        out.append(Statement(t.pg_name, "identity", _r(sql.SQL(
            "SELECT setval({seq}, GREATEST((SELECT max({col}) FROM {tbl}), {floor}, 1), "
            "(SELECT max({col}) FROM {tbl}) IS NOT NULL OR {floor} > 0)").format(
            seq=seq, col=col, tbl=tbl, floor=floor))))
    return out


def key_indexes(t: TablePlan) -> tuple[list[Statement], list[Statement]]:
    """``run``'s form of keys and indexes: every index (primary key and unique constraints
    too) built by CREATE INDEX, which several sessions can run on one table at once; then
    the keys attached with ADD CONSTRAINT ... USING INDEX (a catalog change)."""
    builds: list[Statement] = []
    attach: list[Statement] = []
    tbl = ident(t.pg_name)
    if t.pk and t.pk_name:
        name = ident(t.pk_name)
        builds.append(Statement(t.pg_name, "index", f"CREATE UNIQUE INDEX {name} ON {tbl} "
                                f"({', '.join(ident(c) for c in t.pk)})"))
        attach.append(Statement(t.pg_name, "primary key", f"ALTER TABLE {tbl} ADD CONSTRAINT "
                                f"{name} PRIMARY KEY USING INDEX {name}"))
    for ix in t.indexes:
        if ix.constraint:
            name = ident(ix.pg_name)
            builds.append(Statement(t.pg_name, "index", f"CREATE UNIQUE INDEX {name} ON {tbl} "
                                    f"({_terms(t, ix)})"))
            attach.append(Statement(t.pg_name, "unique", f"ALTER TABLE {tbl} ADD CONSTRAINT "
                                    f"{name} UNIQUE USING INDEX {name}"))
    builds += [s for s in indexes(t) if s.phase == "index"]
    return builds, attach


def views(plan: Plan) -> list[Statement]:
    """The views, in order, each translated with what it reads: the plan's tables and the
    views before it."""
    known = {t.name.lower(): table_info(t) for t in plan.tables}
    out = []
    for v in plan.views:
        body, info = _carried(f"view {v.name}", sqlexpr.translate_view, v.source, known)
        known[v.name.lower()] = replace(info, pg_name=v.pg_name)
        out.append(Statement(None, "view", f"CREATE VIEW {ident(v.pg_name)} AS {body}", v.name))
    return out


def pre_data(plan: Plan) -> list[Statement]:
    return [create_table(t) for t in plan.tables]


def post_data(plan: Plan) -> list[Statement]:
    """In dependency order: keys before the foreign keys that need them, views last."""
    out: list[Statement] = []
    for t in plan.tables:
        out += retypes(t) + primary_key(t) + indexes(t)
    for t in plan.tables:
        out += checks(t) + identity_restart(t)
    for t in plan.tables:
        out += foreign_keys(t)
    return out + views(plan)


def script(plan: Plan) -> str:
    """The whole DDL as one psql script (``plan --format sql``)."""
    lines = ["-- sqlite2pg plan: DDL for an empty database (psql -v ON_ERROR_STOP=1 -f FILE)"]
    if plan.uses_citext:
        lines += ["-- COLLATE NOCASE columns are citext", "CREATE EXTENSION IF NOT EXISTS citext;"]
    lines.append("-- pre-data: tables")
    lines += [s.sql + ";" for s in pre_data(plan)]
    lines.append("-- post-data: keys, indexes, checks, identities, foreign keys, views "
                 "(run executes these after loading the rows)")
    lines += [s.sql + ";" for s in post_data(plan)]
    return "\n".join(lines) + "\n"
