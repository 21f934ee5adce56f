"""Typed operands of SQLite expressions, and SQLite's typing rules for them.

A ``Val`` is an operand's PostgreSQL rendering with what SQLite knows about it: its kind (int
real num text blob bool pred null; other, with the reason it cannot be compared or computed
with), the storage classes it may hold, its affinity and its collation. A column is typed from
its PostgreSQL type as the plan chose it and the storage classes its SQLite data holds
(``column_val``), a constant as SQLite has it (``literal``), a computed value from its
operands (``derived``: an explicit COLLATE carries over). The rules every node kind shares:
the collation of a comparison (explicit first, then a column's, left first), text as its
collation compares it (NOCASE folds ASCII letters only, RTRIM ignores trailing spaces), truth
as a non-zero number, integer operands of arithmetic widened to bigint. ``transfer.sqlexpr``
types and renders each node kind with them; its docstring is the reference of the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from psycopg import sql

from transfer.sqlparse import NotPortable


@dataclass(frozen=True)
class ColumnInfo:
    pg_name: str  # the PostgreSQL column name
    pg_type: str  # PostgreSQL type as the plan chose it: 'bigint', 'numeric(10,2)', 'text', ...
    affinity: str  # SQLite affinity: 'INTEGER','TEXT','BLOB','REAL','NUMERIC' ('NONE': a view's)
    collation: str | None = None  # SQLite collation: 'NOCASE', 'RTRIM' or None (BINARY)
    classes: frozenset[str] = frozenset()  # storage classes the data holds ('integer', ...)


@dataclass(frozen=True)
class TableInfo:
    pg_name: str
    columns: dict[str, ColumnInfo]  # key: SQLite column name lower-cased; in column order


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = UPPER.lower()
_FOLD = str.maketrans(UPPER, LOWER)


def ascii_fold(pg_sql: sql.Composable) -> sql.Composable:
    """SQLite's NOCASE and lower() folding (ASCII letters only): exact, and IMMUTABLE."""
    return sql.SQL("translate({}, {}, {})").format(pg_sql, sql.Literal(UPPER),
                                                    sql.Literal(LOWER))


def _rtrim(pg_sql: sql.Composable) -> sql.Composable:
    return sql.SQL("rtrim({}, ' ')").format(pg_sql)


NUMERIC_AFFINITIES = frozenset({"INTEGER", "REAL", "NUMERIC"})
NUMBERS = frozenset({"int", "real", "num"})
TRUTHS = frozenset({"bool", "pred"})  # PostgreSQL boolean; SQLite 0/1
COLLATIONS = frozenset({"BINARY", "NOCASE", "RTRIM"})
EXACT = 2**53  # integers up to this magnitude are exact in double precision
C = sql.SQL(' COLLATE "C"')
NULL_BOOL = sql.SQL("NULL::boolean")
# PostgreSQL type -> (kind, the storage classes it holds as SQLite compares them)
_TYPE_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    **dict.fromkeys(("bigint", "integer", "smallint"), ("int", frozenset({"integer"}))),
    "double precision": ("real", frozenset({"integer", "real"})),
    "numeric": ("num", frozenset({"integer", "real"})),
    **dict.fromkeys(("text", "varchar", "character varying", "citext"),
                    ("text", frozenset({"text"}))),
    "boolean": ("bool", frozenset({"integer"})),
    "bytea": ("blob", frozenset({"blob"})),
}
_NATURAL = {"int": {"integer"}, "real": {"real"}, "num": {"integer"}, "text": {"text"},
            "bool": {"integer"}, "pred": {"integer"}, "blob": {"blob"}}
PG_TYPES = {"int": "bigint", "real": "double precision", "num": "numeric", "text": "text",
            "blob": "bytea", "bool": "boolean", "pred": "integer", "null": "text"}


@dataclass(frozen=True)
class Val:
    """A typed operand: its PostgreSQL rendering and what SQLite knows about it."""

    pg: sql.Composable
    kind: str  # int real num text blob bool pred null other
    classes: frozenset[str] = frozenset()  # SQLite storage classes the value may have
    aff: str | None = None  # SQLite affinity: columns and CAST only
    coll: str | None = None  # SQLite collation: a column's, or COLLATE's (explicit)
    explicit: bool = False
    lit: bool = False  # a constant; ``value`` holds it as SQLite has it
    value: Any = None
    why: str = ""  # kind 'other': why it cannot be compared or computed with
    big: bool = False  # an integer that may pass 2^53
    pg_type: str = ""
    desc: str = ""  # the source text, for messages
    refs: frozenset[str] = frozenset()  # column references outside aggregates (rendered)
    agg: bool = False  # holds an aggregate
    name: str = ""  # a column reference: the column's name


def type_parts(pg_type: str) -> tuple[str, tuple[int, ...]]:
    m = re.fullmatch(r"\s*([a-z ]+?)\s*(?:\(([\d,\s]+)\))?\s*", pg_type.lower())
    if not m:
        return pg_type.lower(), ()
    return m.group(1), tuple(int(p) for p in (m.group(2) or "").split(",") if p.strip())


def column_val(ci: ColumnInfo, ref: sql.Composable, desc: str = "") -> Val:
    """A column reference, typed from its plan and its data."""
    base, params = type_parts(ci.pg_type)
    kind, allowed = _TYPE_KINDS.get(base, ("other", frozenset()))
    classes = ci.classes or frozenset(_NATURAL.get(kind, ()))
    coll = (ci.collation or "BINARY").upper()
    if coll not in COLLATIONS:
        raise NotPortable(f"collation {ci.collation} has no PostgreSQL equivalent here")
    why = ""
    digits = params[0] - (params[1] if len(params) > 1 else 0) if params else 99
    if kind == "other" or not classes <= allowed:
        kind, why = "other", (f"column {ci.pg_name} is {ci.pg_type} in PostgreSQL but "
                              f"{'/'.join(sorted(classes)) or 'text'} in SQLite, which compares "
                              "and computes it as such")
    elif kind == "num" and "real" in classes and not (params and params[0] <= 15):
        kind, why = "other", (f"column {ci.pg_name} holds reals carried as {ci.pg_type}, "
                              "not the doubles SQLite computes with")
    aff = ci.affinity.upper()
    pg = sql.SQL("({})::text").format(ref) if base == "citext" else ref  # citext: no folding
    return Val(pg, kind, frozenset(classes), aff=None if aff in ("", "NONE") else aff,
               coll=coll, why=why, big=base == "bigint" or (kind == "num" and digits > 15),
               pg_type="text" if base == "citext" else ci.pg_type, desc=desc or ci.pg_name,
               name=ci.pg_name, refs=frozenset({pg.as_string(None)}))


def literal(value: Any, desc: str = "") -> Val:
    desc = desc or repr(value)
    if value is None:
        return Val(sql.SQL("NULL"), "null", lit=True, desc=desc)
    if isinstance(value, bool | int):
        v = int(value)
        return Val(sql.Literal(v), "int", frozenset({"integer"}), lit=True, value=v,
                   big=abs(v) > EXACT, pg_type="integer" if abs(v) < 2**31 else "bigint",
                   desc=desc)
    if isinstance(value, float):
        return Val(sql.SQL("({})::double precision").format(sql.Literal(value)), "real",
                   frozenset({"real"}), lit=True, value=value, pg_type="double precision",
                   desc=desc)
    if isinstance(value, str):
        if "\x00" in value:
            raise NotPortable("a text with a NUL character, which PostgreSQL text cannot hold")
        return Val(sql.Literal(value), "text", frozenset({"text"}), lit=True, value=value,
                   pg_type="text", desc=desc)
    return Val(sql.Literal(bytes(value)), "blob", frozenset({"blob"}), lit=True,
               value=bytes(value), pg_type="bytea", desc=desc)


def derived(pg: sql.Composable, kind: str, parts: Sequence[Val],
             classes: set[str] | frozenset[str] | None = None, pg_type: str = "",
             big: bool = False) -> Val:
    """A computed value: an explicit COLLATE of an operand carries over (SQLite's rule).
    An integer's PostgreSQL type is bigint only when known to be (else it is widened)."""
    explicit = next((p for p in parts if p.explicit), None)
    if kind == "null":
        pg = sql.SQL("NULL")  # PostgreSQL would type a NULL-only CASE as text
    if not pg_type and kind == "int":
        pg_type = "bigint" if any(type_parts(p.pg_type)[0] == "bigint" for p in parts
                                  if p.kind == "int") else "integer"
    return Val(pg, kind, frozenset(_NATURAL.get(kind, ()) if classes is None else classes),
               coll=explicit.coll if explicit else None, explicit=explicit is not None,
               refs=frozenset().union(*(p.refs for p in parts)), agg=any(p.agg for p in parts),
               pg_type=pg_type or PG_TYPES.get(kind, ""),
               big=big or any(p.big for p in parts if p.kind in NUMBERS))


def family(v: Val) -> str:
    if v.kind == "other":
        raise NotPortable(v.why)
    return "number" if v.kind in NUMBERS | TRUTHS else v.kind


def collation(a: Val, b: Val) -> str:
    """SQLite's collation of a comparison: explicit first, then a column's, left first."""
    for v in (a, b):
        if v.explicit and v.coll:
            return v.coll
    return next((v.coll for v in (a, b) if v.coll), "BINARY")


def collated(v: Val, coll: str | None = None) -> sql.Composable:
    """The text ``v`` as its collation compares it (bytewise with ``COLLATE "C"``)."""
    coll = coll or v.coll or "BINARY"
    if v.lit and isinstance(v.value, str):
        text = v.value.translate(_FOLD) if coll == "NOCASE" else v.value
        return sql.Literal(text.rstrip(" ") if coll == "RTRIM" else text)
    return ascii_fold(v.pg) if coll == "NOCASE" else _rtrim(v.pg) if coll == "RTRIM" else v.pg


def as_bool(v: Val) -> sql.Composable:
    """``v`` where PostgreSQL needs a boolean: SQLite's truth is a non-zero number."""
    if v.kind in TRUTHS:
        return v.pg
    if v.kind == "null":
        return NULL_BOOL
    if v.kind in NUMBERS:
        return sql.SQL("({} <> 0)").format(v.pg)
    raise NotPortable(v.why or f"{v.desc} used as a condition: SQLite reads a number from it")


def as_int(v: Val) -> Val:
    """A truth value as SQLite has it: 0 or 1."""
    if v.kind not in TRUTHS:
        return v
    return replace(v, pg=sql.SQL("({})::integer").format(v.pg), kind="int",
                   classes=frozenset({"integer"}), pg_type="integer", big=False)


def wide(v: Val) -> sql.Composable:
    """An integer operand of arithmetic, as bigint: SQLite computes in 64 bits."""
    if v.kind == "int" and type_parts(v.pg_type)[0] != "bigint":
        return sql.SQL("({})::bigint").format(v.pg)
    return v.pg


class Scope:
    """The names an expression may use: here, one table's columns."""

    def __init__(self, table: TableInfo | None = None) -> None:
        self.table = table

    def column(self, qual: str | None, name: str) -> Val | None:
        t = self.table
        if t is None:
            return None
        if qual is not None and qual.lower() != t.pg_name.lower():
            raise NotPortable(f"refers to table {qual}")
        ci = t.columns.get(name.lower())
        return None if ci is None else column_val(ci, sql.Identifier(ci.pg_name))
