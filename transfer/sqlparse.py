"""SQLite's expression grammar: the parser that ``transfer.sqlexpr`` (typing and rendering)
and ``transfer.sqlview`` (views) build on.

Expressions are parsed with SQLite's operator precedence
(https://www.sqlite.org/lang_expr.html) into ``Node`` trees; literals SQLite itself must
read (a real's text, a hexadecimal integer) are read by SQLite (``sqlite_value``).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, NoReturn

from transfer import sqltext
from transfer.sqltext import Token


class NotPortable(Exception):
    """Why the expression is not carried (one short clause, e.g. 'SQLite's typeof() has no
    PostgreSQL equivalent')."""


def sqlite_value(query: str, *args: Any) -> Any:
    """One value computed by SQLite itself: its conversions, exactly."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute("CREATE TABLE a(n NUMERIC, t TEXT)")
        try:
            if query.startswith("INSERT"):
                db.execute(query, args)
                return db.execute("SELECT coalesce(n, t) FROM a").fetchone()[0]
            return db.execute(query, args).fetchone()[0]
        except sqlite3.Error as e:  # e.g. text that is not UTF-8
            raise NotPortable(f"SQLite's value is not carried: {e}") from e


# -- parsing -------------------------------------------------------------------------------
@dataclass
class Node:
    """One node of a parsed SQLite expression."""

    op: str
    kids: list[Node] = field(default_factory=list)
    value: Any = None
    neg: bool = False
    span: str = ""  # its source text


RESERVED = frozenset(  # words that are no column name where an expression starts
    "ALL AND AS ASC BETWEEN BY CASE CAST COLLATE CROSS DESC DISTINCT ELSE END ESCAPE EXCEPT "
    "EXISTS FROM FULL GLOB GROUP HAVING IN INNER INTERSECT IS ISNULL JOIN LEFT LIKE LIMIT MATCH "
    "NATURAL NOT NOTNULL NULL NULLS OFFSET ON OR ORDER OUTER REGEXP RIGHT SELECT THEN UNION "
    "USING VALUES WHEN WHERE WINDOW WITH".split())
_CLOSED = {"'": r"'(?:[^']|'')*'", '"': r'"(?:[^"]|"")*"', "`": r"`(?:[^`]|``)*`",
           "[": r"\[[^\]]*\]", "x": r"[xX]'[^']*'"}
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_COMPARE = {"=": "=", "==": "=", "<>": "<>", "!=": "<>"}


class Parser:
    """SQLite's expression grammar (https://www.sqlite.org/lang_expr.html), by precedence."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = sqltext.tokenize(text)
        self.i = 0
        for t in self.toks:
            head = t.text[0] if t.kind != "blob" else "x"
            if t.kind in ("string", "ident", "blob") and not re.fullmatch(_CLOSED[head], t.text,
                                                                          re.S):
                raise NotPortable(f"unterminated {t.text[:12]}")

    # token helpers
    def peek(self, k: int = 0) -> Token | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def word(self, *words: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "word" and t.upper in words

    def op(self, *ops: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind in ("op", "lparen", "rparen") and t.text in ops

    def take(self, *words: str) -> str | None:
        t = self.peek()
        if t is not None and (self.word(*words) or self.op(*words)):
            self.i += 1
            return t.upper or t.text
        return None

    def expect(self, *words: str) -> str:
        got = self.take(*words)
        if got is None:
            self.fail(f"expected {' or '.join(words)}")
        return str(got)

    def fail(self, what: str = "cannot read the expression") -> NoReturn:
        t = self.peek()
        raise NotPortable(f"{what} near {t.text!r}" if t else f"{what} at the end")

    def end(self) -> None:
        if self.peek() is not None:
            self.fail("unexpected text")

    def spanned(self, start: int, node: Node) -> Node:
        if not node.span:
            node.span = self.text[self.toks[start].start:self.toks[self.i - 1].end].strip()
        return node

    def select(self) -> Any:  # a subquery: the view translator parses it
        raise NotPortable("subqueries are carried in views only")

    # grammar, lowest precedence first
    def expr(self) -> Node:
        start, left = self.i, self.and_()
        while self.take("OR"):
            left = self.spanned(start, Node("or", [left, self.and_()]))
        return left

    def and_(self) -> Node:
        start, left = self.i, self.not_()
        while self.take("AND"):
            left = self.spanned(start, Node("and", [left, self.not_()]))
        return left

    def not_(self) -> Node:
        start = self.i
        if self.take("NOT"):
            return self.spanned(start, Node("not", [self.not_()]))
        return self.equality()

    def equality(self) -> Node:
        start, left = self.i, self.binary(0)
        matching = ("LIKE", "GLOB", "MATCH", "REGEXP", "IN", "BETWEEN")
        while True:
            if op := self.take("=", "==", "<>", "!="):
                node = Node("cmp", [left, self.binary(0)], _COMPARE[op])
            elif self.take("IS"):
                negated = bool(self.take("NOT"))
                if self.take("DISTINCT"):
                    self.expect("FROM")
                    negated = not negated
                node = Node("cmp", [left, self.binary(0)], "IS NOT" if negated else "IS")
            elif self.take("ISNULL"):
                node = Node("isnull", [left])
            elif self.take("NOTNULL"):
                node = Node("isnull", [left], neg=True)
            elif self.word("NOT") and self.word("NULL", k=1):
                self.i += 2
                node = Node("isnull", [left], neg=True)
            elif self.word(*matching) or (self.word("NOT") and self.word(*matching, k=1)):
                neg = bool(self.take("NOT"))
                node = self.postfix(left, self.expect(*matching), neg)
            elif self.take("COLLATE"):  # after ISNULL or IN (...): it applies to their result
                node = Node("collate", [left], self.collation())
            else:
                return left
            left = self.spanned(start, node)

    def postfix(self, left: Node, word: str, neg: bool) -> Node:
        if word == "BETWEEN":
            lo = self.binary(0)
            self.expect("AND")
            return Node("between", [left, lo, self.binary(0)], neg=neg)
        if word == "IN":
            self.expect("(")
            if self.word("SELECT", "VALUES", "WITH"):
                node = Node("insel", [left], self.select(), neg)
            else:
                items = [] if self.op(")") else [self.expr()]
                while self.take(","):
                    items.append(self.expr())
                node = Node("in", [left, *items], neg=neg)
            self.expect(")")
            return node
        kids = [left, self.binary(0)]
        if self.take("ESCAPE"):
            kids.append(self.binary(0))
        return Node("like", kids, word, neg)

    _LEVELS = (("<", "<=", ">", ">="), ("&", "|", "<<", ">>"), ("+", "-"), ("*", "/", "%"),
               ("||", "->", "->>"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.collate()
        start, left = self.i, self.binary(level + 1)
        while op := self.take(*self._LEVELS[level]):
            node = Node("cmp" if level == 0 else "binop", [left, self.binary(level + 1)], op)
            left = self.spanned(start, node)
        return left

    def collate(self) -> Node:
        start, node = self.i, self.unary()
        while self.take("COLLATE"):
            node = self.spanned(start, Node("collate", [node], self.collation()))
        return node

    def collation(self) -> str:
        t = self.peek()
        if t is None or t.kind not in ("word", "ident", "string"):
            self.fail("expected a collation name")
        self.i += 1
        return t.name

    def unary(self) -> Node:
        start = self.i
        if op := self.take("-", "+", "~"):
            return self.spanned(start, Node("unary", [self.unary()], op))
        return self.spanned(start, self.primary())

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            return self.fail()
        self.i += 1
        if t.kind == "number":
            return Node("lit", value=_number(t.text))
        if t.kind == "string":
            return Node("lit", value=t.name)
        if t.kind == "blob":
            digits = t.text[2:-1]
            if len(digits) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", digits):
                raise NotPortable(f"malformed blob literal {t.text}")
            return Node("lit", value=bytes.fromhex(digits))
        if t.kind == "lparen":
            if self.word("SELECT", "VALUES", "WITH"):
                node = Node("subq", value=self.select())
            else:
                node = self.expr()
                if self.op(","):
                    raise NotPortable("row values have no exact PostgreSQL equivalent here")
            self.expect(")")
            return Node(node.op, node.kids, node.value, node.neg)  # span: with parentheses
        up = t.upper
        if up == "NULL":
            return Node("lit")
        if up in ("CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"):
            raise NotPortable(f"{up} is the time of the statement, as text in SQLite")
        if up == "NOT":
            return Node("not", [self.equality()])
        if up == "CASE":
            return self.case()
        if up == "CAST":
            self.expect("(")
            kid = self.expr()
            self.expect("AS")
            words = []
            while (n := self.peek()) is not None and n.kind in ("word", "ident"):
                words.append(n.name.upper())
                self.i += 1
            if self.take("("):
                while not self.take(")"):
                    self.i += 1 if self.peek() else self.fail()
            self.expect(")")
            return Node("cast", [kid], " ".join(words))
        if up == "EXISTS":
            self.expect("(")
            node = Node("exists", value=self.select())
            self.expect(")")
            return node
        if t.kind == "word" and self.op("(") and up not in RESERVED:
            return self.call(t.text)
        if t.kind in ("word", "ident") and up not in RESERVED:
            parts = [t]
            while self.op(".") and (n := self.peek(1)) is not None and n.kind in ("word",
                                                                                   "ident"):
                parts.append(n)
                self.i += 2
            if len(parts) == 3 and parts[0].name.lower() == "main":
                parts = parts[1:]
            if len(parts) > 2:
                raise NotPortable(f"refers to another schema: {parts[0].name}")
            last = parts[-1]
            return Node("col", value=(parts[0].name if len(parts) == 2 else None, last.name,
                                      last.text[0] if last.kind == "ident" else ""))
        self.i -= 1
        return self.fail()

    def call(self, name: str) -> Node:
        self.expect("(")
        distinct, star, args = bool(self.take("DISTINCT")), bool(self.take("*")), []
        if not star and not self.op(")"):
            args.append(self.expr())
            while self.take(","):
                args.append(self.expr())
        self.expect(")")
        if self.word("FILTER", "OVER"):
            raise NotPortable(f"{name}() with FILTER or OVER: aggregate filters and windows "
                              "are not carried")
        return Node("func", args, (name, distinct, star))

    def case(self) -> Node:
        base = None if self.word("WHEN") else self.expr()
        kids = [] if base is None else [base]
        while self.take("WHEN"):
            kids.append(self.expr())
            self.expect("THEN")
            kids.append(self.expr())
        has_else = bool(self.take("ELSE"))
        if has_else:
            kids.append(self.expr())
        self.expect("END")
        return Node("case", kids, (base is not None, has_else))


def _number(text: str) -> int | float:
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        if len(text[2:].lstrip("0")) > 16:
            raise NotPortable(f"hex literal {text} is too big")
        v = int(text[2:], 16)
        return v - 2**64 if v >= 2**63 else v
    if not _NUMBER.fullmatch(text):
        raise NotPortable(f"cannot read the number {text}")
    if text.isdigit() and int(text) < 2**63:
        return int(text)
    return float(sqlite_value("SELECT CAST(? AS REAL)", text))  # SQLite's own reading
