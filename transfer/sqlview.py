"""SQLite views carried into PostgreSQL with their meaning, or refused with the reason.

A view's SELECT is parsed (compound selects, joins, subqueries in FROM and in expressions,
GROUP BY, HAVING, ORDER BY, LIMIT), every expression typed and rendered by
``transfer.sqlexpr``, and the PostgreSQL SELECT gives the same rows on the data: every output
column named as SQLite names it (``AS "name"``), ``*`` expanded to the column list, text
grouped and ordered bytewise, NULLs ordered first as SQLite orders them. The same rule as
``sqlexpr``: carried only when equivalent on the data; otherwise ``NotPortable`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from psycopg import sql

from transfer.sqlexpr import Translator
from transfer.sqlparse import RESERVED, Node, NotPortable, Parser
from transfer.sqlvalue import (
    COLLATIONS,
    NUMBERS,
    PG_TYPES,
    C,
    ColumnInfo,
    Scope,
    TableInfo,
    Val,
    as_bool,
    as_int,
    collated,
    column_val,
)

PG_MAX_NAME = 63  # bytes of a PostgreSQL identifier
Transform = Callable[[Val], sql.Composable]


# -- parsing -------------------------------------------------------------------------------
@dataclass
class Item:
    """A result column: an expression, or a star (``star``: '' for *, the table for t.*)."""

    node: Node | None
    star: str | None
    alias: str | None
    span: str


@dataclass
class Source:
    join: str  # '' for the first; 'JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN', 'CROSS JOIN'
    table: str | None
    select: Select | None
    alias: str | None
    on: Node | None = None
    using: list[str] = field(default_factory=list)


@dataclass
class Core:
    distinct: bool
    items: list[Item]
    sources: list[Source]
    where: Node | None
    group: list[Node]
    having: Node | None


@dataclass
class Select:
    cores: list[Core]
    ops: list[str]  # between the cores: UNION, UNION ALL, EXCEPT, INTERSECT
    order: list[tuple[Node, bool, str | None]]  # (term, descending, NULLS FIRST/LAST)
    limit: Node | None
    offset: Node | None


_JOINS = {None: "JOIN", "INNER": "JOIN", "CROSS": "CROSS JOIN", "LEFT": "LEFT JOIN",
          "RIGHT": "RIGHT JOIN", "FULL": "FULL JOIN"}
_RESERVED_ALIAS = RESERVED | {"INDEXED"}  # no bare alias: FROM t INDEXED BY i


class SelectParser(Parser):
    """SQLite's SELECT (https://www.sqlite.org/lang_select.html), without WITH and VALUES."""

    def select(self) -> Select:
        if self.word("WITH"):
            raise NotPortable("WITH (common table expressions) is not carried")
        cores, ops = [self.core()], []
        while op := self.take("UNION", "EXCEPT", "INTERSECT"):
            ops.append("UNION ALL" if op == "UNION" and self.take("ALL") else op)
            cores.append(self.core())
        order: list[tuple[Node, bool, str | None]] = []
        if self.take("ORDER"):
            self.expect("BY")
            while True:
                node = self.expr()
                desc = self.take("ASC", "DESC") == "DESC"
                order.append((node, desc, self.expect("FIRST", "LAST") if self.take("NULLS")
                               else None))
                if not self.take(","):
                    break
        limit = offset = None
        if self.take("LIMIT"):
            limit = self.expr()
            if self.take("OFFSET"):
                offset = self.expr()
            elif self.take(","):
                offset, limit = limit, self.expr()
        return Select(cores, ops, order, limit, offset)

    def core(self) -> Core:
        if self.word("VALUES"):
            raise NotPortable("VALUES is not carried")
        self.expect("SELECT")
        distinct = self.take("DISTINCT", "ALL") == "DISTINCT"
        items = [self.item()]
        while self.take(","):
            items.append(self.item())
        sources = self.sources() if self.take("FROM") else []
        where = self.expr() if self.take("WHERE") else None
        group: list[Node] = []
        if self.take("GROUP"):
            self.expect("BY")
            group.append(self.expr())
            while self.take(","):
                group.append(self.expr())
        having = self.expr() if self.take("HAVING") else None
        if self.word("WINDOW"):
            raise NotPortable("window definitions are not carried")
        return Core(distinct, items, sources, where, group, having)

    def item(self) -> Item:
        start, t = self.i, self.peek()
        if self.take("*"):
            return Item(None, "", None, "*")
        if t is not None and t.kind in ("word", "ident") and self.op(".", k=1) and \
                self.op("*", k=2):
            self.i += 3
            return Item(None, t.name, None, "")
        node = self.expr()
        span = self.text[self.toks[start].start:self.toks[self.i - 1].end].strip()
        return Item(node, None, self.alias(), span)

    def alias(self) -> str | None:
        t = self.peek()
        named = self.take("AS") is not None
        t = self.peek() if named else t
        if t is not None and (t.kind in ("ident", "string") or (t.kind == "word" and (
                named or t.upper not in _RESERVED_ALIAS))):
            self.i += 1
            return t.name
        if named:
            self.fail("expected a name")
        return None

    def sources(self) -> list[Source]:
        out = [self.source("")]
        while True:
            if self.take(","):
                join = "CROSS JOIN"
            elif self.word("NATURAL"):
                raise NotPortable("NATURAL joins are not carried")
            else:
                kind = self.take("LEFT", "RIGHT", "FULL", "INNER", "CROSS")
                if kind in ("LEFT", "RIGHT", "FULL"):
                    self.take("OUTER")
                if kind is None and not self.word("JOIN"):
                    return out
                self.expect("JOIN")
                join = _JOINS[kind]
            src = self.source(join)
            if self.take("ON"):
                src.on = self.expr()
            elif self.take("USING"):
                self.expect("(")
                while True:
                    t = self.peek()
                    if t is None or t.kind not in ("word", "ident"):
                        self.fail("expected a column name")
                    src.using.append(t.name)
                    self.i += 1
                    if not self.take(","):
                        break
                self.expect(")")
            out.append(src)

    def source(self, join: str) -> Source:
        if self.take("("):
            if not self.word("SELECT", "VALUES", "WITH"):
                raise NotPortable("parenthesized joins are not carried")
            sel = self.select()
            self.expect(")")
            return Source(join, None, sel, self.alias())
        t = self.peek()
        if t is None or t.kind not in ("word", "ident", "string"):
            self.fail("expected a table name")
        self.i += 1
        if self.op(".") and (n := self.peek(1)) is not None:
            if t.name.lower() != "main":
                raise NotPortable(f"refers to another schema: {t.name}")
            t, self.i = n, self.i + 2
        if self.op("("):
            raise NotPortable("table-valued functions are not carried")
        alias = self.alias()
        if self.word("INDEXED") or (self.word("NOT") and self.word("INDEXED", k=1)):
            raise NotPortable("INDEXED BY is not carried")
        return Source(join, t.name, None, alias)



# -- translation ---------------------------------------------------------------------------
@dataclass
class Out:
    """An output column: SQLite's name, its value, its PostgreSQL expression."""

    name: str
    val: Val
    pg: sql.Composable
    alias: bool = False


@dataclass
class Bound:
    """A FROM source: the name references use, its PostgreSQL qualifier, its columns."""

    name: str
    pg: str
    info: TableInfo
    hidden: set[str] = field(default_factory=set)  # USING columns bare names do not reach


def sort_key(v: Val) -> sql.Composable:
    """``v`` as SQLite orders it: text bytewise after its collation, truth as 0/1."""
    if v.kind == "other":
        raise NotPortable(v.why)
    return sql.SQL("{}{}").format(collated(v), C) if v.kind == "text" else as_int(v).pg


def distinct_safe(v: Val, what: str) -> None:
    """Refuse grouping values that PostgreSQL would split or merge differently."""
    if v.kind == "other":
        raise NotPortable(v.why)
    if v.kind == "text" and v.coll not in (None, "BINARY"):
        raise NotPortable(f"{what} on {v.desc} with collation {v.coll}: SQLite keeps one of "
                          "the values it takes as equal")


def column_info(name: str, v: Val) -> ColumnInfo:
    """An output column as a later view sees it (SQLite: affinity and collation carry)."""
    v = as_int(v)
    return ColumnInfo(name, v.pg_type or PG_TYPES.get(v.kind, "text"), v.aff or "NONE",
                      v.coll if v.coll in ("NOCASE", "RTRIM") else None, v.classes)


class FromScope(Scope):
    """The names of one SELECT: its FROM sources, its result aliases, the outer query's."""

    def __init__(self, view: ViewTranslator, parent: FromScope | None) -> None:
        super().__init__(None)
        self.view, self.parent = view, parent
        self.sources: list[Bound] = []
        self.aliases: dict[str, Val] = {}
        self.group_keys: set[str] | None = None  # an aggregate query: its GROUP BY keys

    def column(self, qual: str | None, name: str) -> Val | None:
        key = name.lower()
        hits = [b for b in self.sources if key in b.info.columns and (
            qual.lower() == b.name.lower() if qual is not None else key not in b.hidden)]
        if len(hits) > 1:
            raise NotPortable(f"ambiguous column name: {name}")
        if hits:
            ci = hits[0].info.columns[key]
            return column_val(ci, sql.Identifier(hits[0].pg, ci.pg_name), name)
        if qual is None and key in self.aliases:  # SQLite: a result alias, as a last resort
            return self.aliases[key]
        if qual is not None and any(b.name.lower() == qual.lower() for b in self.sources):
            return None
        return self.parent.column(qual, name) if self.parent else None


class ViewExpr(Translator):
    """Expressions of a view: also subqueries and aggregates."""

    scope: FromScope

    def subquery(self, select: Select, transform: Transform | None
                 ) -> tuple[sql.Composable, list[Out]]:
        return self.scope.view.select(select, self.scope, transform)

    def _insel(self, n: Node) -> Val:
        x = self.val(n.kids[0])
        lefts: list[sql.Composable] = []

        def transform(y: Val) -> sql.Composable:
            pa, pb = (x.pg, y.pg) if "null" in (x.kind, y.kind) else self.pair(x, y, False)
            lefts.append(pa)
            return pb

        body, _ = self.subquery(n.value, transform)
        if len({p.as_string(None) for p in lefts}) > 1:
            raise NotPortable(f"IN (SELECT ...) compares {x.desc} differently in each arm")
        pg = sql.SQL("({} {} ({}))").format(lefts[0] if lefts else x.pg,
                                             sql.SQL("NOT IN" if n.neg else "IN"), body)
        return replace(x, pg=pg, kind="pred", classes=frozenset({"integer"}), aff=None,
                       coll=None, explicit=False, lit=False, name="", pg_type="boolean")

    def _exists(self, n: Node) -> Val:
        body, _ = self.subquery(n.value, None)
        return Val(sql.SQL("EXISTS ({})").format(body), "pred", frozenset({"integer"}))

    def _subq(self, n: Node) -> Val:
        body, outs = self.subquery(n.value, None)
        if len(outs) != 1:
            raise NotPortable("a subquery used as a value must give one column")
        return replace(as_int(outs[0].val), pg=sql.SQL("({})").format(body), refs=frozenset(),
                       agg=False, name="", coll=None, explicit=False)

    def aggregate(self, fn: str, arg: Node | None, distinct: bool) -> Val:
        if fn in ("group_concat", "string_agg"):
            raise NotPortable(f"{fn}(): the order of the values differs between the engines")
        if arg is None:
            if fn != "count":
                raise NotPortable(f"{fn}(*)")
            return Val(sql.SQL("count(*)"), "int", frozenset({"integer"}), pg_type="bigint",
                       agg=True, big=True)
        x = self.val(arg)
        if distinct and fn != "count":
            raise NotPortable(f"{fn}(DISTINCT ...) is not carried")

        def made(template: str, kind: str, v: sql.Composable, classes: set[str],
                 pg_type: str = "") -> Val:
            return Val(sql.SQL(template).format(v), kind, frozenset(classes), agg=True,
                       big=True, pg_type=pg_type or PG_TYPES[kind])

        if fn == "count":
            if distinct:
                distinct_safe(x, "count(DISTINCT)")
                return made("count(DISTINCT {})", "int", sort_key(x), {"integer"})
            return made("count({})", "int", x.pg, {"integer"})
        w = as_int(x)
        if fn in ("min", "max"):
            distinct_safe(w, f"{fn}()")
            if w.kind not in NUMBERS | {"text"}:
                raise NotPortable(f"{fn}() of {x.desc}")
            return made(f"{fn}({{}})", w.kind, sort_key(w), set(w.classes), w.pg_type)
        if w.kind not in ("int", "num") or "real" in w.classes:
            raise NotPortable(w.why or f"{fn}() of {x.desc}: a sum of reals depends on the "
                              "order of the additions")
        if fn == "sum":
            return made("(sum({}))::bigint" if w.kind == "int" else "sum({})", w.kind, w.pg,
                        {"integer"})
        template = "(avg({}))::double precision" if fn == "avg" else \
            "(coalesce(sum({}), 0))::double precision"
        return made(template, "real", w.pg, {"real"})


def _grouped(vals: list[Val], keys: set[str]) -> None:
    """PostgreSQL refuses, and SQLite answers from any row: a column neither grouped nor
    aggregated."""
    for v in vals:
        loose = sorted(v.refs - keys) if v.pg.as_string(None) not in keys else []
        if loose:
            raise NotPortable(f"{loose[0]} is neither grouped nor aggregated: SQLite takes it "
                              "from any row of the group, PostgreSQL refuses")


def _names(outs: list[Out]) -> list[Out]:
    """SQLite's names for the output columns: duplicates become name:1, name:2, ..."""
    seen: set[str] = set()
    for o in outs:
        name, count = o.name, 0
        while name.lower() in seen:
            count += 1
            if count > 3:  # SQLite then numbers at random
                raise NotPortable(f"more than four output columns are named {o.name}")
            stem = re.sub(r"(?<=.):\d+$", "", name)
            name = f"{stem}:{count}"
        if len(name.encode()) > PG_MAX_NAME:
            raise NotPortable(f"output column name {name[:20]}... passes PostgreSQL's 63 bytes")
        seen.add(name.lower())
        o.name = name
    return outs


class ViewTranslator:
    def __init__(self, tables: dict[str, TableInfo]) -> None:
        self.tables = tables
        self.subqueries = 0

    def select(self, sel: Select, parent: FromScope | None, transform: Transform | None
               ) -> tuple[sql.Composable, list[Out]]:
        arms = [self.core(c, parent, transform) for c in sel.cores]
        body, outs, scope = arms[0]
        for op, (arm, arm_outs, _s) in zip(sel.ops, arms[1:], strict=True):
            if len(arm_outs) != len(outs):
                raise NotPortable(f"the SELECTs of {op} give different numbers of columns")
            merged = []
            for left, right in zip(outs, arm_outs, strict=True):
                if op != "UNION ALL":
                    distinct_safe(left.val, op)
                    distinct_safe(right.val, op)
                _, shape = Translator.unify([as_int(left.val), as_int(right.val)], op)
                v = replace(left.val, kind=shape.kind, classes=shape.classes, big=shape.big,
                            pg_type=shape.pg_type)
                merged.append(replace(left, val=v))
            outs = merged
            body = sql.SQL("({}) {} ({})").format(body, sql.SQL(op), arm)
        wrap = len(sel.cores) > 1 or sel.cores[0].distinct
        if sel.order or sel.limit is not None:
            body, outs = self.order(sel, body, outs, None if wrap else scope, wrap)
        return body, outs

    def order(self, sel: Select, body: sql.Composable, outs: list[Out],
              scope: FromScope | None, wrap: bool) -> tuple[sql.Composable, list[Out]]:
        alias = "_sorted"
        if wrap:  # ORDER BY on output columns only: a SELECT around the compound or DISTINCT
            outs = [replace(o, val=column_val(column_info(o.name, o.val),
                                              sql.Identifier(alias, o.name), o.name))
                    for o in outs]
        terms = []
        for node, desc, nulls in sel.order:
            v = self.order_value(node, outs, scope)
            if scope is not None and scope.group_keys is not None:
                _grouped([v], scope.group_keys)
            terms.append(sql.SQL("{} {} NULLS {}").format(
                sort_key(v), sql.SQL("DESC" if desc else "ASC"),
                sql.SQL(nulls or ("LAST" if desc else "FIRST"))))  # SQLite: NULL sorts first
        tail = [sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(terms))] if terms else []
        limit, offset = (self.count(n) for n in (sel.limit, sel.offset))
        if limit is not None and limit >= 0:  # SQLite: a negative LIMIT is no limit
            tail.append(sql.SQL("LIMIT {}").format(sql.Literal(limit)))
        if offset:
            tail.append(sql.SQL("OFFSET {}").format(sql.Literal(max(offset, 0))))
        if wrap:
            body = sql.SQL("SELECT * FROM ({}) AS {}").format(body, sql.Identifier(alias))
        return sql.SQL("{} {}").format(body, sql.SQL(" ").join(tail)), outs

    def order_value(self, node: Node, outs: list[Out], scope: FromScope | None) -> Val:
        inner, colls = node, []
        while inner.op == "collate":
            colls.append(inner.value)
            inner = inner.kids[0]
        found = None
        if inner.op == "lit" and isinstance(inner.value, int):
            if not 1 <= inner.value <= len(outs):
                raise NotPortable(f"ORDER BY {inner.value}: no such output column")
            found = outs[inner.value - 1].val
        elif inner.op == "col" and inner.value[0] is None:
            name = str(inner.value[1]).lower()
            found = next((o.val for o in outs if o.alias and o.name.lower() == name), None)
            if found is None and scope is None:
                found = next((o.val for o in outs if o.val.name.lower() == name), None)
        if found is None:
            if scope is None:
                raise NotPortable(f"ORDER BY {node.span} of a compound or DISTINCT SELECT: "
                                  "not an output column")
            return ViewExpr(scope).val(node)
        for coll in reversed(colls):
            if str(coll).upper() not in COLLATIONS:
                raise NotPortable(f"collation {coll} has no PostgreSQL equivalent here")
            found = replace(found, coll=str(coll).upper(), explicit=True)
        return found

    @staticmethod
    def count(node: Node | None) -> int | None:
        if node is None:
            return None
        v = Translator(Scope()).val(node)
        if not (v.lit and v.kind == "int"):
            raise NotPortable("LIMIT or OFFSET other than an integer literal")
        return int(v.value)

    def core(self, c: Core, parent: FromScope | None, transform: Transform | None
             ) -> tuple[sql.Composable, list[Out], FromScope]:
        scope = FromScope(self, parent)
        parts: list[sql.Composable] = [sql.SQL("SELECT DISTINCT" if c.distinct else "SELECT")]
        from_sql = self.from_(c.sources, scope)
        expr = ViewExpr(scope)
        outs = _names(self.items(c.items, scope, expr))
        if transform is not None:
            if len(outs) != 1:
                raise NotPortable("a subquery after IN must give one column")
            outs[0].pg = transform(outs[0].val)
        parts.append(sql.SQL(", ").join(sql.SQL("{} AS {}").format(o.pg, sql.Identifier(o.name))
                                        for o in outs))
        if c.sources:
            parts.append(sql.SQL("FROM {}").format(from_sql))
        scope.aliases = {o.name.lower(): o.val for o in outs if o.alias}
        if c.where is not None:
            parts.append(sql.SQL("WHERE {}").format(as_bool(expr.val(c.where))))
        group = [outs[g.value - 1].val if g.op == "lit" and isinstance(g.value, int) and
                 1 <= g.value <= len(outs) else expr.val(g) for g in c.group]
        for g in group:
            distinct_safe(g, "GROUP BY")
        if group:
            parts.append(sql.SQL("GROUP BY {}").format(sql.SQL(", ").join(g.pg for g in group)))
        having = expr.val(c.having) if c.having is not None else None
        if having is not None:
            parts.append(sql.SQL("HAVING {}").format(as_bool(having)))
        if group or having is not None or any(o.val.agg for o in outs):
            scope.group_keys = {g.pg.as_string(None) for g in group}
            _grouped([o.val for o in outs] + ([having] if having else []), scope.group_keys)
        if c.distinct:
            for o in outs:
                distinct_safe(o.val, "DISTINCT")
        return sql.SQL(" ").join(parts), outs, scope

    def items(self, items: list[Item], scope: FromScope, expr: ViewExpr) -> list[Out]:
        outs = []
        for it in items:
            if it.node is not None:
                v = expr.val(it.node)
                outs.append(Out(it.alias or v.name or it.span, v, as_int(v).pg,
                                it.alias is not None))
                continue
            bounds = [b for b in scope.sources if not it.star or b.name.lower() ==
                      it.star.lower()]
            if not bounds:
                raise NotPortable(f"no such table: {it.star}" if it.star else "* without FROM")
            for b in bounds:
                for key, ci in b.info.columns.items():
                    if it.star or key not in b.hidden:
                        v = column_val(ci, sql.Identifier(b.pg, ci.pg_name))
                        outs.append(Out(ci.pg_name, v, v.pg))
        return outs

    def from_(self, sources: list[Source], scope: FromScope) -> sql.Composable:
        parts: list[sql.Composable] = []
        for s in sources:
            if s.select is not None:
                body, outs = self.select(s.select, None, None)
                info = TableInfo("", {o.name.lower(): column_info(o.name, o.val) for o in outs})
                self.subqueries += 1
                name = s.alias or f"(subquery-{self.subqueries})"
                pg = s.alias or f"_subquery{self.subqueries}"
                rel: sql.Composable = sql.SQL("({}) AS {}").format(body, sql.Identifier(pg))
            else:
                found = self.tables.get(str(s.table).lower())
                if found is None:
                    raise NotPortable(f"no such table: {s.table}")
                info, name, pg = found, s.alias or str(s.table), s.alias or found.pg_name
                rel = sql.SQL("{} AS {}").format(sql.Identifier(info.pg_name), sql.Identifier(
                    s.alias)) if s.alias else sql.Identifier(info.pg_name)
            if any(b.name.lower() == name.lower() for b in scope.sources):
                raise NotPortable(f"{name} is named twice in FROM")
            bound = Bound(name, pg, info)
            on = self.join_condition(s, bound, scope)
            scope.sources.append(bound)
            if s.on is not None:
                on = as_bool(ViewExpr(scope).val(s.on))
            if not parts:
                parts.append(rel)
            elif on is None and s.join in ("JOIN", "CROSS JOIN"):
                parts.append(sql.SQL("CROSS JOIN {}").format(rel))
            else:  # SQLite's LEFT JOIN without ON keeps every row: ON TRUE
                join = "JOIN" if s.join == "CROSS JOIN" else s.join
                parts.append(sql.SQL("{} {} ON {}").format(sql.SQL(join), rel,
                                                           on or sql.SQL("TRUE")))
        return sql.SQL(" ").join(parts)

    @staticmethod
    def join_condition(s: Source, bound: Bound, scope: FromScope) -> sql.Composable | None:
        """USING (c): compared as SQLite compares left.c = right.c; bare c is the left one."""
        if not s.using:
            return None
        if s.join in ("RIGHT JOIN", "FULL JOIN"):
            raise NotPortable(f"{s.join} ... USING: SQLite merges the columns")
        conds = []
        for col in s.using:
            key = col.lower()
            left = next((b for b in scope.sources if key in b.info.columns and
                         key not in b.hidden), None)
            if left is None or key not in bound.info.columns:
                raise NotPortable(f"USING column {col} is missing on one side")
            lc, rc = left.info.columns[key], bound.info.columns[key]
            conds.append(Translator(scope).compare(
                "=", column_val(lc, sql.Identifier(left.pg, lc.pg_name)),
                column_val(rc, sql.Identifier(bound.pg, rc.pg_name))))
            bound.hidden.add(key)
        return sql.SQL(" AND ").join(conds)


def translate_view(select_sql: str, tables: dict[str, TableInfo]) -> tuple[str, TableInfo]:
    """The body of CREATE VIEW (the SELECT after AS) for PostgreSQL, and its output columns
    (``pg_name``: the output name; the caller sets the view's own ``pg_name``), so that a
    later view may select from it. ``tables``: keys are SQLite names lower-cased."""
    p = SelectParser(select_sql)
    sel = p.select()
    p.end()
    body, outs = ViewTranslator(tables).select(sel, None, None)
    columns = {o.name.lower(): column_info(o.name, o.val) for o in outs}
    return body.as_string(None), TableInfo("", columns)
