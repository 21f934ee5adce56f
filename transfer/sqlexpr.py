"""SQLite expressions carried into PostgreSQL with their meaning, or refused with the reason.

CHECK constraints, index expressions, partial-index predicates and (with ``transfer.sqlview``)
view bodies are parsed with SQLite's grammar and operator precedence (``transfer.sqlparse``),
typed, and rendered from ``psycopg.sql`` pieces only: names as ``sql.Identifier``, every
value as ``sql.Literal``, keywords, operators and function names from this module's own
tables. Source text is never pasted into the output. The typed operands and the rules they
share are ``transfer.sqlvalue``'s.

The rule: an expression is carried only when equivalent on the data, that is when PostgreSQL
gives the same result as SQLite for every value the columns can hold, given each column's
PostgreSQL type and the storage classes its SQLite data holds. Typing follows SQLite
(https://www.sqlite.org/datatype3.html): comparison affinity (a TEXT column compared with 0
compares with '0'), collations (NOCASE folds ASCII letters only, RTRIM ignores trailing
spaces, BINARY orders bytes: ``COLLATE "C"``), LIKE's ASCII case folding, truth as a non-zero
number. Conversions of literals are computed by SQLite itself. Anything else raises
``NotPortable``.

Accepted differences, on values no plan keeps: integer overflow (SQLite continues in floating
point, PostgreSQL raises an error; int4 and int2 operands are widened to bigint first, so the
limit is the same 2^63), CAST of a real beyond the bigint range to INTEGER (SQLite clamps,
PostgreSQL raises), and avg()/total() of integers whose running sum passes 2^53.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from psycopg import sql

from transfer.sqlparse import Node, Parser, sqlite_value
from transfer.sqlparse import NotPortable as NotPortable  # (the translators' refusal)
from transfer.sqlvalue import (
    COLLATIONS,
    LOWER,
    NULL_BOOL,
    NUMBERS,
    NUMERIC_AFFINITIES,
    PG_TYPES,
    TRUTHS,
    UPPER,
    C,
    Scope,
    TableInfo,
    Val,
    as_bool,
    as_int,
    ascii_fold,
    collated,
    collation,
    derived,
    family,
    literal,
    type_parts,
    wide,
)

# -- typing and rendering ------------------------------------------------------------------
_ORDERING = ("<", "<=", ">", ">=")
_PG_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
               "IS": "IS NOT DISTINCT FROM", "IS NOT": "IS DISTINCT FROM"}
_TIME_FUNCTIONS = {"date": "date", "time": "time", "datetime": "datetime",
                   "julianday": "julianday", "unixepoch": "unixepoch", "strftime": "strftime"}
_STRICT = frozenset({"lower", "upper", "length", "abs", "trim", "ltrim", "rtrim", "instr",
                     "substr", "substring"})  # NULL in, NULL out
_AGGREGATES = frozenset({"count", "sum", "total", "avg", "min", "max", "group_concat",
                         "string_agg"})
_REFUSED = {
    "typeof": "SQLite's typeof() has no PostgreSQL equivalent",
    "round": "round(): PostgreSQL rounds a double half to even, SQLite away from zero",
    "json_valid": "json_valid: carried as the jsonb type when the column is jsonb",
    "min": "min() of several values: SQLite gives NULL when one is NULL, least() skips it",
    "max": "max() of several values: SQLite gives NULL when one is NULL, greatest() skips it",
}


class Translator:
    """Types parsed expressions and renders them for PostgreSQL."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def val(self, n: Node) -> Val:
        handler: Callable[[Node], Val] = getattr(self, "_" + n.op)
        v = handler(n)
        return replace(v, desc=n.span) if n.span else v

    # comparisons ---------------------------------------------------------------------------
    def compare(self, op: str, a: Val, b: Val, affinity: bool = True) -> sql.Composable:
        if a.kind == "null" or b.kind == "null":
            if op not in ("IS", "IS NOT"):
                return NULL_BOOL
            other = b if a.kind == "null" else a
            if other.kind == "null":
                return sql.SQL("TRUE" if op == "IS" else "FALSE")
            return sql.SQL("({} IS NULL)" if op == "IS" else "({} IS NOT NULL)").format(other.pg)
        pa, pb = self.pair(a, b, op in _ORDERING, affinity)
        return sql.SQL(f"({{}} {_PG_COMPARE[op]} {{}})").format(pa, pb)

    def pair(self, a: Val, b: Val, ordering: bool, affinity: bool = True
             ) -> tuple[sql.Composable, sql.Composable]:
        """Both operands as PostgreSQL must compare them to get SQLite's answer."""
        if affinity:
            a, b = self.affine(a, b)
        if family(a) != family(b):
            raise NotPortable(f"compares {a.desc} with {b.desc}: SQLite orders the storage "
                              "classes, PostgreSQL refuses to compare them")
        if family(a) == "text":
            coll = collation(a, b)
            pb = collated(b, coll)
            return collated(a, coll), sql.SQL("{}{}").format(pb, C) if ordering else pb
        if family(a) == "blob":
            return a.pg, b.pg
        if a.kind in TRUTHS and b.kind in TRUTHS:
            return a.pg, b.pg
        for t, o in ((a, b), (b, a)):
            if t.kind in TRUTHS and o.lit and o.value in (0, 1):
                word = sql.SQL("TRUE" if o.value else "FALSE")
                return (t.pg, word) if t is a else (word, t.pg)
        a, b = as_int(a), as_int(b)
        for x, y in ((a, b), (b, a)):
            if x.kind == "real" and y.big and not x.lit:
                raise NotPortable(f"compares {y.desc} with {x.desc}: PostgreSQL rounds integers "
                                  "beyond 2^53 to double precision, SQLite compares exactly")

        def exact(x: Val, y: Val) -> sql.Composable:
            """A real literal against integers: its exact binary value, as SQLite compares
            them (PostgreSQL compares a bigint and a numeric exactly)."""
            if x.lit and x.kind == "real" and y.classes <= {"integer"} and y.kind != "real":
                return sql.Literal(Decimal(x.value))
            return x.pg

        return exact(a, b), exact(b, a)

    def affine(self, a: Val, b: Val) -> tuple[Val, Val]:
        """SQLite's comparison affinity (datatype3.html 4.2), applied to both operands."""
        x, y = a.aff, b.aff
        if x and y:
            aff = "NUMERIC" if x in NUMERIC_AFFINITIES or y in NUMERIC_AFFINITIES else None
        else:
            z = x or y
            aff = "NUMERIC" if z in NUMERIC_AFFINITIES else "TEXT" if z == "TEXT" else None
        if aff is None:
            return a, b
        return self.convert(a, aff), self.convert(b, aff)

    @staticmethod
    def convert(v: Val, aff: str) -> Val:
        if aff == "NUMERIC" and v.kind == "text" and v.aff not in NUMERIC_AFFINITIES:
            if not v.lit:
                raise NotPortable(f"SQLite compares {v.desc} as a number when its text reads "
                                  "as one")
            value = sqlite_value("INSERT INTO a(n) VALUES (?)", v.value)
            return replace(literal(value, v.desc), coll=v.coll, explicit=v.explicit)
        if aff == "TEXT" and v.aff != "TEXT" and v.kind in NUMBERS | TRUTHS:
            if not v.lit:
                raise NotPortable(f"SQLite compares {v.desc} as text here")
            value = sqlite_value("INSERT INTO a(t) VALUES (?)", v.value)
            return replace(literal(value, v.desc), coll=v.coll, explicit=v.explicit)
        return v

    def _cmp(self, n: Node) -> Val:
        a, b = (self.val(k) for k in n.kids)
        right = n.kids[1]
        if n.value in ("IS", "IS NOT") and right.op == "col" and right.value[2] == "" and \
                right.value[1].upper() in ("TRUE", "FALSE") and b.lit:  # IS TRUE: truth test
            return derived(sql.SQL(f"({{}} {n.value} {right.value[1].upper()})").format(
                as_bool(a)), "pred", [a, b])
        return derived(self.compare(n.value, a, b), "pred", [a, b])

    def _isnull(self, n: Node) -> Val:
        v = self.val(n.kids[0])
        return derived(sql.SQL("({} IS NOT NULL)" if n.neg else "({} IS NULL)").format(v.pg),
                        "pred", [v])

    def _between(self, n: Node) -> Val:
        x, lo, hi = (self.val(k) for k in n.kids)
        pg = sql.SQL("({} AND {})").format(self.compare(">=", x, lo), self.compare("<=", x, hi))
        return derived(sql.SQL("(NOT {})").format(pg) if n.neg else pg, "pred", [x, lo, hi])

    def _in(self, n: Node) -> Val:
        x = self.val(n.kids[0])  # SQLite: the list's values have no affinity nor collation
        items = [replace(self.val(k), aff=None, coll=None, explicit=False) for k in n.kids[1:]]
        if not items:  # SQLite: x IN () is false, even for NULL
            return derived(sql.SQL("TRUE" if n.neg else "FALSE"), "pred", [x])
        if x.kind == "null":
            return derived(NULL_BOOL, "pred", [x])
        lefts, rights = [], []
        for it in items:
            pa, pb = (x.pg, it.pg) if it.kind == "null" else self.pair(x, it, False)
            lefts.append(pa)
            rights.append(pb)
        if len({p.as_string(None) for p in lefts}) == 1:
            pg = sql.SQL("({} IN ({}))").format(lefts[0], sql.SQL(", ").join(rights))
        else:
            pg = sql.SQL("({})").format(sql.SQL(" OR ").join(
                sql.SQL("({} = {})").format(a, b) for a, b in zip(lefts, rights, strict=True)))
        return derived(sql.SQL("(NOT {})").format(pg) if n.neg else pg, "pred", [x, *items])

    def _subq(self, n: Node) -> Val:  # views only: transfer.sqlview
        raise NotPortable("subqueries are carried in views only")

    _insel = _exists = _subq

    def aggregate(self, fn: str, arg: Node | None, distinct: bool) -> Val:
        raise NotPortable(f"aggregate {fn}() outside a view")

    def _like(self, n: Node) -> Val:
        kind = n.value
        if kind in ("MATCH", "REGEXP"):
            raise NotPortable(f"{kind} calls a function the application defines in SQLite")
        a, p = self.val(n.kids[0]), self.val(n.kids[1])
        for v in (a, p):
            if v.kind not in ("text", "null"):
                raise NotPortable(v.why or f"{kind} on {v.desc}: SQLite matches its text")
        esc = self.val(n.kids[2]) if len(n.kids) > 2 else None
        if kind == "GLOB" and esc is not None:
            raise NotPortable("GLOB takes no ESCAPE")
        if kind == "GLOB":
            if not p.lit:
                raise NotPortable("GLOB with a pattern that is not a constant")
            pg = NULL_BOOL if p.kind == "null" else _glob(a.pg, p.value)
        else:
            char = ""
            if esc is not None:
                if not (esc.lit and isinstance(esc.value, str) and len(esc.value) == 1):
                    raise NotPortable("LIKE ... ESCAPE needs one character, as a literal")
                char = esc.value
                if char.lower() in LOWER or char in "%_":
                    raise NotPortable("ESCAPE with a letter or a wildcard: SQLite folds case "
                                      "around it differently")
                if not p.lit:
                    raise NotPortable("LIKE ... ESCAPE with a pattern that is not a constant")
                if p.kind == "text" and re.search(f"(?<!{re.escape(char)})({re.escape(char)}"
                                                  f"{re.escape(char)})*{re.escape(char)}$",
                                                  p.value):
                    raise NotPortable("the LIKE pattern ends with its escape character")
            pg = sql.SQL("({} LIKE {} ESCAPE {})").format(collated(a, "NOCASE"),
                                                          collated(p, "NOCASE"),
                                                          sql.Literal(char))
        if n.neg:
            pg = sql.SQL("(NOT {})").format(pg)
        return derived(pg, "pred", [a, p])

    # arithmetic ----------------------------------------------------------------------------
    def _unary(self, n: Node) -> Val:
        v = self.val(n.kids[0])
        if n.value == "+":  # SQLite: +x is x without its affinity (it keeps a collation)
            return replace(v, aff=None, name="")
        self.arith_operand(v, n.value)
        if v.kind == "null":
            return v
        if v.lit and n.value == "-":
            value = -v.value
            return literal(float(value) if isinstance(value, int) and value >= 2**63 else value,
                           n.span)
        if n.value == "~" and v.kind != "int":
            raise NotPortable(f"~ on {v.desc}: SQLite converts it to an integer first")
        pg = sql.SQL("(- {})" if n.value == "-" else "(~ {})").format(wide(v))
        return derived(pg, v.kind, [v], v.classes, "bigint" if v.kind == "int" else "")

    @staticmethod
    def arith_operand(v: Val, op: str) -> None:
        if v.kind in TRUTHS:
            raise NotPortable(f"arithmetic on {v.desc}: a comparison gives 0/1 in SQLite, "
                              "a boolean in PostgreSQL")
        if v.kind == "num" and "real" in v.classes:
            raise NotPortable(f"arithmetic on {v.desc}: SQLite computes with doubles, "
                              "PostgreSQL with exact decimals")
        if v.kind not in NUMBERS and v.kind != "null":
            raise NotPortable(v.why or f"{op} on {v.desc}: SQLite reads a number from it")

    def _binop(self, n: Node) -> Val:
        op = n.value
        if op in ("->", "->>"):
            raise NotPortable("SQLite's JSON operators -> and ->> differ from PostgreSQL's")
        a, b = (self.val(k) for k in n.kids)
        if op == "||":
            for v in (a, b):
                if v.kind not in ("text", "int", "null"):
                    raise NotPortable(v.why or f"|| with {v.desc}: SQLite writes a number's "
                                      "text its own way (1.0 for a real)")
            parts = [sql.SQL("({})::text").format(v.pg) if v.kind == "int" else v.pg
                     for v in (a, b)]
            return derived(sql.SQL("({} || {})").format(*parts), "text", [a, b])
        self.arith_operand(a, op)
        self.arith_operand(b, op)
        if "null" in (a.kind, b.kind):
            return replace(literal(None), refs=a.refs | b.refs, agg=a.agg or b.agg)
        kinds = {a.kind, b.kind}
        kind = "real" if "real" in kinds else "num" if "num" in kinds else "int"
        both_int = a.classes <= {"integer"} and b.classes <= {"integer"}
        classes = {"integer"} if both_int else {"real"} if not (
            "integer" in a.classes and "integer" in b.classes) else {"integer", "real"}
        if op in ("/", "%"):
            if not (b.lit and b.value != 0):
                raise NotPortable(f"{op} by {b.desc}: SQLite gives NULL for a zero divisor, "
                                  "PostgreSQL raises an error")
            if op == "%" and kinds != {"int"}:
                raise NotPortable(f"% of {a.desc}: SQLite takes the integer part of a real")
            if op == "/" and b.kind == "int" and a.classes != {"real"}:
                if not a.classes <= {"integer"}:
                    raise NotPortable(f"/ on {a.desc}: SQLite divides its integers as integers "
                                      "and its reals as reals")
                if a.kind != "int":
                    raise NotPortable(f"/ on {a.desc}: an integer division in SQLite")
            classes = {"integer"} if kind == "int" else {"real"}
        if op in ("&", "|", "<<", ">>"):
            if kinds != {"int"}:
                raise NotPortable(f"{op} on a non-integer: SQLite converts it to an integer")
            if op in ("<<", ">>") and not (b.lit and 0 <= b.value < 64):
                raise NotPortable(f"{op} by {b.desc}: SQLite shifts the other way for a "
                                  "negative count and gives 0 from 64")
        # Integer overflow differs and is accepted (module docstring): SQLite continues in
        # floating point, PostgreSQL raises an error, both at 2^63 once an operand is bigint.
        pa = wide(a) if kind == "int" and type_parts(b.pg_type)[0] != "bigint" else a.pg
        pg = sql.SQL(f"({{}} {op} {{}})").format(pa, b.pg)
        return derived(pg, kind, [a, b], classes, "bigint" if kind == "int" else "", True)

    def _collate(self, n: Node) -> Val:
        v = self.val(n.kids[0])
        name = str(n.value).upper()
        if name not in COLLATIONS:
            raise NotPortable(f"collation {n.value} has no PostgreSQL equivalent here")
        return replace(v, coll=name, explicit=True)

    # logic ---------------------------------------------------------------------------------
    def _not(self, n: Node) -> Val:
        v = self.val(n.kids[0])
        return derived(sql.SQL("(NOT {})").format(as_bool(v)), "pred", [v])

    def _and(self, n: Node) -> Val:
        a, b = (self.val(k) for k in n.kids)
        return derived(sql.SQL("({} AND {})").format(as_bool(a), as_bool(b)), "pred", [a, b])

    def _or(self, n: Node) -> Val:
        a, b = (self.val(k) for k in n.kids)
        return derived(sql.SQL("({} OR {})").format(as_bool(a), as_bool(b)), "pred", [a, b])

    # values --------------------------------------------------------------------------------
    def _lit(self, n: Node) -> Val:
        return literal(n.value, n.span)

    def _col(self, n: Node) -> Val:
        qual, name, quote = n.value
        v = self.scope.column(qual, name)
        if v is not None:
            return v
        if qual is None and quote == '"':  # SQLite: a "word" that names no column is a string
            return literal(name, n.span)
        if qual is None and quote == "" and name.upper() in ("TRUE", "FALSE"):
            return literal(int(name.upper() == "TRUE"), n.span)
        raise NotPortable(f"no such column: {name}")

    @staticmethod
    def unify(vals: list[Val], what: str) -> tuple[list[sql.Composable], Val]:
        """Values one PostgreSQL type holds as SQLite has them (CASE, coalesce): the values
        and the shape of the result."""
        if {v.kind for v in vals} & TRUTHS and {v.kind for v in vals} - TRUTHS - {"null"}:
            vals = [as_int(v) for v in vals]
        live = [v for v in vals if v.kind != "null"]
        kinds = {v.kind for v in live}
        if "other" in kinds:
            if kinds != {"other"} or len({v.pg_type for v in live}) > 1:
                raise NotPortable(next(v.why for v in live if v.kind == "other"))
            return [v.pg for v in vals], live[0]
        if len({family(v) for v in live}) > 1:
            raise NotPortable(f"{what} mixes numbers, text or blobs: SQLite keeps each value's "
                              "class, PostgreSQL needs one type")
        if "real" in kinds and any(v.big for v in live):
            raise NotPortable(f"{what} mixes reals with integers that PostgreSQL would round "
                              "to double precision beyond 2^53")
        kind = ("real" if "real" in kinds else "num" if "num" in kinds else "pred" if "pred" in
                kinds else kinds.pop() if kinds else "null")
        shape = Val(sql.SQL(""), kind, frozenset().union(*(v.classes for v in live)),
                    big=any(v.big for v in live), pg_type=live[0].pg_type if len(
                        {v.pg_type for v in live}) == 1 else PG_TYPES[kind])
        return [v.pg for v in vals], shape

    @staticmethod
    def shaped(pg: sql.Composable, shape: Val, parts: Sequence[Val]) -> Val:
        v = derived(pg, shape.kind, parts, shape.classes, shape.pg_type, shape.big)
        return replace(v, why=shape.why)

    def _case(self, n: Node) -> Val:
        has_base, has_else = n.value
        kids = list(n.kids)
        base = self.val(kids.pop(0)) if has_base else None
        other = self.val(kids.pop()) if has_else else None
        conds, results, parts = [], [], []
        for w, r in zip(kids[::2], kids[1::2], strict=True):
            wv, rv = self.val(w), self.val(r)
            conds.append(self.compare("=", base, wv) if base is not None else as_bool(wv))
            results.append(rv)
            parts += [wv, rv]
        outs, shape = self.unify(results + ([other] if other else []), "CASE")
        whens = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(c, r)
                                  for c, r in zip(conds, outs, strict=False))
        tail = sql.SQL(" ELSE {}").format(outs[-1]) if other else sql.SQL("")
        return self.shaped(sql.SQL("CASE {}{} END").format(whens, tail), shape,
                           [*([base] if base else []), *parts, *([other] if other else [])])

    def _cast(self, n: Node) -> Val:
        v, name = self.val(n.kids[0]), str(n.value)
        aff = ("INTEGER" if "INT" in name else "TEXT" if re.search("CHAR|CLOB|TEXT", name)
               else "BLOB" if "BLOB" in name or not name else "REAL" if re.search(
                   "REAL|FLOA|DOUB", name) else "NUMERIC")
        if v.lit and v.kind != "null":
            value = sqlite_value(f"SELECT CAST(? AS {aff})", v.value)  # aff: one of five words
            return replace(literal(value, n.span), aff=aff, coll=v.coll, explicit=v.explicit)
        w = as_int(v)
        prefix = f"CAST of {v.desc} AS {name or 'BLOB'}"
        if w.kind == "other":
            raise NotPortable(w.why)
        if aff in ("INTEGER", "REAL", "NUMERIC") and w.kind in ("text", "blob"):
            raise NotPortable(f"{prefix}: SQLite reads a numeric prefix, PostgreSQL raises an "
                              "error")
        if w.kind == "null":
            pg, kind, classes = w.pg, "null", set()
        elif aff == "INTEGER":
            pg = w.pg if w.kind == "int" else sql.SQL("(trunc({}))::bigint").format(w.pg)
            kind, classes = "int", {"integer"}
        elif aff == "REAL":
            pg = w.pg if w.kind == "real" else sql.SQL("({})::double precision").format(w.pg)
            kind, classes = "real", {"real"}
        elif aff == "NUMERIC":
            pg, kind, classes = w.pg, w.kind, set(w.classes) | ({"integer"} if "real" in
                                                                w.classes else set())
        elif aff == "TEXT" and w.kind in ("text", "int"):
            pg = w.pg if w.kind == "text" else sql.SQL("({})::text").format(w.pg)
            kind, classes = "text", {"text"}
        elif aff == "BLOB" and w.kind in ("blob", "text"):
            pg = w.pg if w.kind == "blob" else sql.SQL("convert_to({}, 'UTF8')").format(w.pg)
            kind, classes = "blob", {"blob"}
        else:
            raise NotPortable(f"{prefix}: SQLite writes the value its own way")
        pg_type = w.pg_type if pg is w.pg else PG_TYPES[kind]  # unchanged: its own type
        return replace(derived(pg, kind, [w], classes, pg_type, w.big), aff=aff, coll=v.coll,
                       explicit=v.explicit)

    # functions -----------------------------------------------------------------------------
    def _func(self, n: Node) -> Val:
        name, distinct, star = n.value
        fn = name.lower()
        if fn in _AGGREGATES and (star or len(n.kids) == 1):
            return self.aggregate(fn, n.kids[0] if n.kids else None, distinct)
        if fn in _REFUSED:
            raise NotPortable(_REFUSED[fn])
        if distinct or star:
            raise NotPortable(f"{name}(): DISTINCT or * outside an aggregate")
        args = [self.val(k) for k in n.kids]
        if fn in _STRICT and any(a.kind == "null" for a in args):
            return replace(literal(None), refs=frozenset().union(*(a.refs for a in args)))
        if fn in _TIME_FUNCTIONS:
            if not all(a.lit for a in args) or any(
                    isinstance(a.value, str) and re.search("now|localtime|utc", a.value, re.I)
                    for a in args):
                raise NotPortable(f"{name}(): SQLite's date and time functions compute text "
                                  "that PostgreSQL's do not")
            marks = ", ".join("?" for _ in args)  # the name comes from _TIME_FUNCTIONS
            value = sqlite_value(f"SELECT {_TIME_FUNCTIONS[fn]}({marks})", *(a.value for a in args))
            return literal(value, n.span)
        return self.scalar(fn, name, args)

    def scalar(self, fn: str, name: str, args: list[Val]) -> Val:
        def want(counts: tuple[int, ...], *kinds: str) -> None:
            if len(args) not in counts:
                raise NotPortable(f"{name}() with {len(args)} arguments")
            for a in args:
                if a.kind not in kinds:
                    raise NotPortable(a.why or f"{name}() of {a.desc}: SQLite converts it "
                                      "its own way")

        def call(pg_name: str, kind: str, values: Sequence[sql.Composable] | None = None,
                 pg_type: str = "") -> Val:
            pieces = [a.pg for a in args] if values is None else values
            pg = sql.SQL("{}({})").format(sql.SQL(pg_name), sql.SQL(", ").join(pieces))
            return derived(pg, kind, args, pg_type=pg_type, big=kind != "text")

        if fn in ("lower", "upper"):
            want((1,), "text")
            if fn == "lower":
                return derived(ascii_fold(args[0].pg), "text", args)
            return call("translate", "text", [args[0].pg, sql.Literal(LOWER),
                                              sql.Literal(UPPER)])
        if fn == "length":
            want((1,), "text", "blob", "int")
            a = args[0]
            return call("octet_length" if a.kind == "blob" else "char_length", "int",
                        [sql.SQL("({})::text").format(a.pg) if a.kind == "int" else a.pg],
                        "integer")
        if fn == "abs":
            want((1,), "int", "real", "num")
            return replace(call("abs", args[0].kind, [wide(args[0])], "bigint" if
                                args[0].kind == "int" else ""), classes=args[0].classes)
        if fn in ("trim", "ltrim", "rtrim"):
            want((1, 2), "text")
            return call({"trim": "btrim"}.get(fn, fn), "text")
        if fn == "replace":  # SQLite: an empty pattern gives the text, even for a NULL
            want((3,), "text", "null")
            x, y, z = args
            if x.kind == "null" or y.kind == "null" or (y.lit and y.value == ""):
                return x if y.kind != "null" else derived(x.pg, "null", args)
            if y.lit:
                return call("replace", "text")
            return derived(sql.SQL("CASE WHEN {} = '' THEN {} ELSE replace({}, {}, {}) END")
                            .format(y.pg, x.pg, x.pg, y.pg, z.pg), "text", args)
        if fn in ("instr", "substr", "substring") and any(a.kind == "blob" for a in args):
            raise NotPortable(f"{name}() of a blob: SQLite gives NULL for an empty one")
        if fn == "instr":
            want((2,), "text")
            return call("strpos", "int", pg_type="integer")
        if fn in ("substr", "substring"):
            if len(args) not in (2, 3) or args[0].kind != "text" or not all(
                    a.lit and a.kind == "int" and low <= a.value < 2**31
                    for a, low in zip(args[1:], (1, 0), strict=False)):
                raise NotPortable(f"{name}() other than of text from a literal start >= 1 and "
                                  "length >= 0: SQLite counts differently")
            return call("substr", "text")
        if fn in ("coalesce", "ifnull"):
            if len(args) < 2 or (fn == "ifnull" and len(args) != 2):
                raise NotPortable(f"{name}() with {len(args)} arguments")
            outs, shape = self.unify(args, name)
            return self.shaped(sql.SQL("coalesce({})").format(sql.SQL(", ").join(outs)), shape,
                               args)
        if fn == "nullif":
            want((2,), *(NUMBERS | TRUTHS | {"text", "blob", "null"}))
            same = self.compare("=", args[0], args[1], affinity=False)
            first = as_int(args[0])
            return derived(sql.SQL("CASE WHEN {} THEN NULL ELSE {} END").format(same, first.pg),
                            first.kind, args, first.classes, first.pg_type)
        if fn == "iif":
            if len(args) != 3:
                raise NotPortable(f"{name}() with {len(args)} arguments")
            outs, shape = self.unify(args[1:], name)
            return self.shaped(sql.SQL("CASE WHEN {} THEN {} ELSE {} END").format(
                as_bool(args[0]), *outs), shape, args)
        if fn in ("likely", "unlikely") and len(args) == 1:
            return args[0]
        raise NotPortable(f"function {name}() has no known PostgreSQL equivalent")


def _glob(a: sql.Composable, pattern: str) -> sql.Composable:
    """SQLite's GLOB with a constant pattern: LIKE when it has no [...], else a regex."""
    like: list[str] = []
    regex: list[str] = []
    classes, i, n = False, 0, len(pattern)

    def esc(c: str) -> str:  # one character in a PostgreSQL regular expression
        return c if not c.isascii() or c.isalnum() else "\\" + c

    while i < n:
        c = pattern[i]
        if c != "[":
            regex.append(".*" if c == "*" else "." if c == "?" else esc(c))
            like.append("%" if c == "*" else "_" if c == "?" else
                        "\\" + c if c in "%_\\" else c)
            i += 1
            continue
        # a class, read as SQLite's patternCompare() does: [^...], a leading ], ranges a-z
        j, invert, items, prior = i + 1, False, [], None
        if j < n and pattern[j] == "^":
            invert, j = True, j + 1
        if j < n and pattern[j] == "]":
            items.append(esc("]"))
            j += 1
        while j < n and pattern[j] != "]":
            if pattern[j] == "-" and prior is not None and j + 1 < n and pattern[j + 1] != "]":
                if pattern[j + 1] < prior:
                    raise NotPortable("a GLOB range runs backwards")
                items[-1] += "-" + esc(pattern[j + 1])
                prior, j = None, j + 2
                continue
            prior = pattern[j]
            items.append(esc(prior))
            j += 1
        if j >= n:
            raise NotPortable("GLOB pattern with an unterminated [")
        regex.append("[" + "^" * invert + "".join(items) + "]")
        classes, i = True, j + 1
    if not classes:
        return sql.SQL("({} LIKE {} ESCAPE {})").format(a, sql.Literal("".join(like)),
                                                         sql.Literal("\\"))
    return sql.SQL("({} ~ {})").format(a, sql.Literal("^" + "".join(regex) + "$"))


def _typed(text: str, table: TableInfo) -> Val:
    p = Parser(text)
    node = p.expr()
    p.end()
    return Translator(Scope(table)).val(node)


def translate_check(text: str, table: TableInfo) -> str:
    """A CHECK expression (boolean context; NULL passes in both engines)."""
    return as_bool(_typed(text, table)).as_string(None)


def translate_predicate(text: str, table: TableInfo) -> str:
    """A partial index's WHERE (boolean context)."""
    return as_bool(_typed(text, table)).as_string(None)


def translate_value(text: str, table: TableInfo) -> str:
    """An index term: the key as SQLite compares it (its collation applied)."""
    v = _typed(text, table)
    if v.kind == "other":
        raise NotPortable(v.why)
    return (collated(v) if v.kind == "text" else as_int(v).pg).as_string(None)


def translate_view(select_sql: str, tables: dict[str, TableInfo]) -> tuple[str, TableInfo]:
    """A view's SELECT: see ``transfer.sqlview.translate_view``."""
    from transfer import sqlview

    return sqlview.translate_view(select_sql, tables)
