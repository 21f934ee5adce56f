"""SQLite expressions and defaults rewritten for PostgreSQL, or refused.

Only what is provably portable is translated: names (re-quoted as their PostgreSQL
names, since SQLite matches names case-insensitively), literals, operators and a short list
of functions that mean the same in both. Anything else raises ``NotPortable`` with the
reason, and the caller reports what was not carried over.
"""

from __future__ import annotations

import re

from psycopg import sql

from transfer import sqltext


class NotPortable(Exception):
    """The expression uses something PostgreSQL does not have or means differently."""


KEYWORDS = {
    "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "LIKE", "CASE", "WHEN", "THEN", "ELSE",
    "END", "TRUE", "FALSE", "ASC", "DESC", "DISTINCT", "CAST", "AS", "ESCAPE",
}
# SQLite function -> PostgreSQL function with the same meaning on the values we carry.
FUNCTIONS = {
    "LOWER": "lower", "UPPER": "upper", "ABS": "abs", "COALESCE": "coalesce",
    "LENGTH": "char_length", "TRIM": "btrim", "LTRIM": "ltrim", "RTRIM": "rtrim",
    "NULLIF": "nullif", "ROUND": "round", "REPLACE": "replace",
}
CAST_TYPES = {"INTEGER": "bigint", "INT": "bigint", "REAL": "double precision", "TEXT": "text",
              "NUMERIC": "numeric", "BLOB": "bytea"}


def render(composable: sql.Composable) -> str:
    return composable.as_string(None)


def expression(text: str, names: dict[str, str]) -> str:
    """Translate a SQLite expression; ``names`` maps lower-cased SQLite names to PG names."""
    tokens = sqltext.tokenize(text)
    out: list[str] = []
    for k, t in enumerate(tokens):
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if t.kind in ("word", "ident"):
            upper = t.upper
            is_call = (nxt is not None and nxt.kind == "lparen" and t.kind == "word"
                       and upper not in KEYWORDS)
            if is_call:
                if upper in FUNCTIONS:
                    out.append(FUNCTIONS[upper])
                    continue
                raise NotPortable(f"function {t.text}() has no PostgreSQL equivalent here")
            if t.kind == "word" and upper in KEYWORDS:
                out.append(upper)
                continue
            if t.kind == "word" and upper in CAST_TYPES and out and out[-1] == "AS":
                out.append(CAST_TYPES[upper])
                continue
            pg = names.get(t.name.lower())
            if pg is None:
                raise NotPortable(f"unknown name {t.text}")
            out.append(render(sql.Identifier(pg)))
        elif t.kind == "string":
            out.append(t.text)  # same quoting rules ('' escapes); standard_conforming_strings
        elif t.kind == "blob":
            out.append("'\\x" + t.text[2:-1] + "'::bytea")
        elif t.kind == "number":
            if t.text.lower().startswith("0x"):
                out.append(str(int(t.text, 16)))
            else:
                out.append(t.text)
        elif t.kind == "op":
            if t.text == "==":
                out.append("=")
            elif t.text in ("->", "->>"):
                raise NotPortable("JSON operators differ between SQLite and PostgreSQL")
            elif t.text in ("=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "%", "||", ","):
                out.append(t.text)
            elif t.text == "/":
                raise NotPortable("division rounds differently on mixed types")
            else:
                raise NotPortable(f"operator {t.text}")
        else:
            out.append(t.text)
    result = " ".join(out)
    return re.sub(r"\( ", "(", re.sub(r" \)", ")", re.sub(r" ,", ",", result)))


_NOW = {"CURRENT_TIMESTAMP", "DATETIME('NOW')", "DATETIME(\"NOW\")", "(DATETIME('NOW'))",
        "STRFTIME('%Y-%m-%d %H:%M:%S','NOW')".upper(), "DATETIME('NOW','UTC')"}
_TODAY = {"CURRENT_DATE", "DATE('NOW')", "(DATE('NOW'))"}
_EPOCH = {"STRFTIME('%S','NOW')", "(STRFTIME('%S','NOW'))", "UNIXEPOCH()", "(UNIXEPOCH())",
          "CAST(STRFTIME('%S','NOW') AS INTEGER)", "(CAST(STRFTIME('%S','NOW') AS INTEGER))"}
_NUMBER = re.compile(r"^\(?\s*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)\s*\)?$")


def default(text: str | None, pg_type: str) -> tuple[str | None, str | None]:
    """(PostgreSQL default expression or None, warning or None) for a SQLite default."""
    if text is None:
        return None, None
    raw = text.strip()
    key = re.sub(r"\s+", "", raw).upper()
    base = pg_type.split("(")[0]
    numeric_types = ("bigint", "integer", "smallint", "double precision", "numeric")
    if key == "NULL":
        return None, None
    if key in _NOW:
        return {
            "timestamp": "(now() AT TIME ZONE 'UTC')",
            "timestamptz": "now()",
            "date": "((now() AT TIME ZONE 'UTC')::date)",
            "text": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            "varchar": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
        }.get(base), _unless_known(base, ("timestamp", "timestamptz", "date", "text", "varchar"),
                                    raw, pg_type)
    if key in _TODAY:
        return {
            "timestamp": "((now() AT TIME ZONE 'UTC')::date::timestamp)",
            "date": "((now() AT TIME ZONE 'UTC')::date)",
            "text": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            "varchar": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        }.get(base), _unless_known(base, ("timestamp", "date", "text", "varchar"), raw, pg_type)
    if key in _EPOCH:
        if base in ("bigint", "integer", "numeric", "double precision"):
            return "(extract(epoch from now())::bigint)", None
        if base == "timestamp":
            return "(date_trunc('second', now() AT TIME ZONE 'UTC'))", None
        return None, f"default {raw} dropped: no equivalent for a {pg_type} column"
    if key in ("TRUE", "FALSE"):
        if base == "boolean":
            return key.lower(), None
        if base in numeric_types:
            return ("1" if key == "TRUE" else "0"), None
    m = _NUMBER.match(raw)
    if m:
        value = m.group(1)
        if base == "boolean":
            if value in ("0", "1"):
                return ("true" if value == "1" else "false"), None
            return None, f"default {raw} dropped: not a boolean"
        if base in numeric_types:
            if base in ("bigint", "integer", "smallint") and not re.fullmatch(r"[+-]?\d+", value):
                return None, f"default {raw} dropped: not an integer"
            return value, None
        if base in ("text", "varchar"):
            return render(sql.Literal(value)), None
        return None, f"default {raw} dropped: a number for a {pg_type} column"
    tokens = sqltext.tokenize(raw)
    while len(tokens) >= 2 and tokens[0].kind == "lparen" and tokens[-1].kind == "rparen":
        tokens = tokens[1:-1]
    if len(tokens) == 1 and tokens[0].kind == "string":
        value = tokens[0].name
        if base == "boolean":
            b = {"t": "true", "true": "true", "1": "true", "f": "false", "false": "false",
                 "0": "false", "yes": "true", "no": "false"}.get(value.lower())
            return (b, None) if b else (None, f"default {raw} dropped: not a boolean")
        if base == "jsonb":
            return render(sql.Literal(value)) + "::jsonb", None
        if base in ("bigint", "integer", "smallint") and re.fullmatch(r"[+-]?\d+", value):
            return value, None
        if base in ("timestamp", "timestamptz", "date"):
            return render(sql.Literal(value)) + "::" + base, None
        if base == "bytea":
            return render(sql.Literal(value.encode().hex())) + "::bytea", None
        if base in numeric_types:
            try:
                float(value)
            except ValueError:
                return None, f"default {raw} dropped: not a number"
            return value, None
        return render(sql.Literal(value)), None
    if len(tokens) == 1 and tokens[0].kind == "blob" and base == "bytea":
        return "'\\x" + tokens[0].text[2:-1] + "'::bytea", None
    return None, f"default {raw} dropped: no PostgreSQL equivalent is known"


def _unless_known(base: str, known: tuple[str, ...], raw: str, pg_type: str) -> str | None:
    return None if base in known else f"default {raw} dropped: no equivalent for a {pg_type} column"
