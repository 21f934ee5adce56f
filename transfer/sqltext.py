"""A small tokenizer for SQLite's CREATE statements.

PRAGMAs tell most of a schema, but not column collations, generated-column expressions,
CHECK constraints, DEFERRABLE clauses, index expressions or partial-index WHERE clauses.
Those are read from the statement text with this tokenizer, which knows SQLite's quoting
("x", `x`, [x], 'text', x'blob') and comments, so that no name or string is split.
"""

from __future__ import annotations

from dataclasses import dataclass


def quote_ident(name: str) -> str:
    """SQLite identifier quoting (the source side; PostgreSQL names go through psycopg.sql)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "ident" (quoted name), "string", "number", "blob", "op", "lparen", "rparen"
    text: str  # the source text, as written
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier this token names, with quoting removed."""
        t = self.text
        if self.kind == "ident":
            if t[0] == "[":
                return t[1:-1]
            q = t[0]
            return t[1:-1].replace(q + q, q)
        if self.kind == "string":  # SQLite accepts 'name' where a name is expected
            return t[1:-1].replace("''", "'")
        return t


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "\"`":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            tokens.append(Token("ident", sql[i : j + 1], i, j + 1))
            i = j + 1
        elif c == "[":
            j = sql.find("]", i)
            j = n - 1 if j < 0 else j
            tokens.append(Token("ident", sql[i : j + 1], i, j + 1))
            i = j + 1
        elif c == "'" or (c in "xX" and i + 1 < n and sql[i + 1] == "'"):
            start = i
            j = i + (2 if c != "'" else 1)
            while j < n:
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            tokens.append(Token("string" if c == "'" else "blob", sql[start : j + 1], start, j + 1))
            i = j + 1
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = i + 1
            hexa = sql[i : i + 2].lower() == "0x"
            while j < n and (sql[j].isalnum() or sql[j] == "."
                             or (sql[j] in "+-" and sql[j - 1] in "eE" and not hexa)):
                j += 1
            tokens.append(Token("number", sql[i:j], i, j))
            i = j
        elif c.isalpha() or c == "_" or ord(c) > 127:
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$" or ord(sql[j]) > 127):
                j += 1
            tokens.append(Token("word", sql[i:j], i, j))
            i = j
        elif c == "(":
            tokens.append(Token("lparen", c, i, i + 1))
            i += 1
        elif c == ")":
            tokens.append(Token("rparen", c, i, i + 1))
            i += 1
        else:
            two = sql[i : i + 2]
            if two in ("<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->"):
                size = 3 if sql[i : i + 3] == "->>" else 2
                tokens.append(Token("op", sql[i : i + size], i, i + size))
                i += size
            else:
                tokens.append(Token("op", c, i, i + 1))
                i += 1
    return tokens


def matching_paren(tokens: list[Token], open_index: int) -> int:
    """Index of the ``)`` that closes the ``(`` at ``open_index``."""
    depth = 0
    for k in range(open_index, len(tokens)):
        if tokens[k].kind == "lparen":
            depth += 1
        elif tokens[k].kind == "rparen":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced parentheses")


def split_top_level(tokens: list[Token]) -> list[list[Token]]:
    """Split a token list at commas that are not inside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "lparen":
            depth += 1
        elif t.kind == "rparen":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == ",":
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def text_of(sql: str, tokens: list[Token]) -> str:
    """The source text spanned by ``tokens``, as written."""
    if not tokens:
        return ""
    return sql[tokens[0].start : tokens[-1].end]


def body_tokens(sql: str) -> list[Token]:
    """Tokens between the outermost parentheses of a CREATE TABLE statement."""
    tokens = tokenize(sql)
    for k, t in enumerate(tokens):
        if t.kind == "lparen":
            return tokens[k + 1 : matching_paren(tokens, k)]
        if t.upper == "AS":  # CREATE TABLE ... AS SELECT has no column list
            break
    return []
