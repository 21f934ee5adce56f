"""Column defaults carried from SQLite to PostgreSQL with their meaning, or refused.

A default is either a time of insertion (``CURRENT_TIMESTAMP``, ``datetime('now')``,
``strftime(format, 'now')``, ``unixepoch()`` and their kin), carried as the PostgreSQL
expression giving the same value in the column's type (UTC, at SQLite's precision: whole
seconds, or milliseconds for ``%f``), or a constant: SQLite itself computes the value it
would store (its affinity applied: ``DEFAULT 5`` in a TEXT column stores '5', ``DEFAULT ""``
is the empty string), and that value is written as a literal of the column's PostgreSQL type,
checked as the copy checks a value. Anything else (``random()``, ``'now','localtime'``, a
value the type cannot hold) is refused with the reason, and the plan reports it.

Output is built from ``psycopg.sql`` pieces only (literals as ``sql.Literal``).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from typing import Any

import pyarrow as pa
from psycopg import sql

from transfer import convert, sqltext, timetext
from transfer.catalog import affinity


class NotPortable(Exception):
    """The default uses something PostgreSQL does not have or means differently."""


def render(composable: sql.Composable) -> str:
    return composable.as_string(None)


_UTC = "(now() AT TIME ZONE 'UTC')"
# SQLite's strftime format codes and to_char's, for a text column (literal text between
# them is quoted for to_char)
_FORMATS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS",
            "%f": "SS.MS", "%j": "DDD"}
_NOW_FUNCTIONS = {"DATETIME": "%Y-%m-%d %H:%M:%S", "DATE": "%Y-%m-%d", "TIME": "%H:%M:%S"}
_KEYWORD_NOW = {"CURRENT_TIMESTAMP": "%Y-%m-%d %H:%M:%S", "CURRENT_DATE": "%Y-%m-%d",
                "CURRENT_TIME": "%H:%M:%S"}
_VOLATILE = {"RANDOM", "RANDOMBLOB", "CHANGES", "TOTAL_CHANGES", "LAST_INSERT_ROWID"}


def default(text: str | None, pg_type: str, declared: str = "") -> tuple[str | None, str | None]:
    """(PostgreSQL default expression or None, why it is not carried or None) for SQLite's
    default ``text`` of a column of ``declared`` type planned as ``pg_type``. (None, None):
    no default."""
    if text is None:
        return None, None
    try:
        return _default(text, pg_type, declared), None
    except NotPortable as e:
        return None, f"default {text} is not carried over: {e}"


def _default(text: str, pg_type: str, declared: str) -> str | None:
    tokens = sqltext.tokenize(text)
    while len(tokens) >= 2 and tokens[0].kind == "lparen" and \
            sqltext.matching_paren(tokens, 0) == len(tokens) - 1:
        tokens = tokens[1:-1]
    base = pg_type.split("(")[0]
    now = _time_of_insert(tokens)
    if now is not None:
        return _now(now, base, pg_type)
    words = {t.upper for t in tokens if t.kind == "word"}
    if words & _VOLATILE:
        raise NotPortable("its value changes with each row (no equivalent in PostgreSQL here)")
    if any(t.kind == "string" and t.name.lower() in ("now", "localtime", "utc", "subsec")
           for t in tokens):
        raise NotPortable("a time in another form or zone than the UTC ones carried")
    if len(tokens) == 1 and tokens[0].kind == "ident" and tokens[0].text.startswith('"'):
        # a double-quoted word naming no column: SQLite's string literal (DEFAULT "")
        text = "'" + tokens[0].name.replace("'", "''") + "'"
    value, stored = _stored(text, declared)
    if stored == "null":
        return None
    return _literal(value, stored, base, pg_type)


def _time_of_insert(tokens: list[sqltext.Token]) -> str | None:
    """The strftime format of a default giving the time of insertion, in UTC (as SQLite
    writes it: 'now' is UTC), or None when it is not one."""
    if len(tokens) == 1 and tokens[0].upper in _KEYWORD_NOW:
        return _KEYWORD_NOW[tokens[0].upper]
    if len(tokens) < 3 or tokens[0].kind != "word" or tokens[1].kind != "lparen" or \
            sqltext.matching_paren(tokens, 1) != len(tokens) - 1:
        return None
    name = tokens[0].upper
    args = [a for a in sqltext.split_top_level(tokens[2:-1])]
    strings = [a[0].name if len(a) == 1 and a[0].kind in ("string", "ident") else None
               for a in args]
    if name == "UNIXEPOCH" and (not args or strings == ["now"]):
        return "%s"
    if name in _NOW_FUNCTIONS and strings == ["now"]:
        return _NOW_FUNCTIONS[name]
    if name == "STRFTIME" and len(strings) == 2 and strings[1] is not None and \
            strings[1].lower() == "now" and strings[0] is not None:
        return strings[0]
    return None


def _now(fmt: str, base: str, pg_type: str) -> str:
    """The time of insertion in ``fmt``, in the column's type."""
    if fmt == "%s":
        if base in ("bigint", "integer", "numeric", "double precision"):
            return f"(floor(extract(epoch FROM now()))::{'bigint' if base != 'numeric' else base})"
        fmt = "%Y-%m-%d %H:%M:%S"  # (the same instant, to the second)
    if base in ("timestamp", "timestamptz", "date"):
        precision = _precision(fmt)
        if precision is None:
            raise NotPortable(f"strftime('{fmt}') is not a time the {pg_type} column holds")
        now = _UTC if base != "timestamptz" else "now()"
        if base == "date":
            if precision != "day":
                raise NotPortable(f"strftime('{fmt}') holds a time, not a date")
            return f"({_UTC}::date)"
        return f"date_trunc('{precision}', {now})"
    if base in ("text", "varchar", "char", "citext"):
        return f"to_char({_UTC}, {render(sql.Literal(_to_char(fmt)))})"
    raise NotPortable(f"the time of insertion has no value in a {pg_type} column")


def _precision(fmt: str) -> str | None:
    """How finely a strftime format that writes an ISO time text tells the time."""
    forms = {"%Y-%m-%d": "day", "%Y-%m-%d %H:%M:%S": "second",
             "%Y-%m-%dT%H:%M:%S": "second", "%Y-%m-%d %H:%M:%f": "milliseconds",
             "%Y-%m-%dT%H:%M:%f": "milliseconds", "%Y-%m-%d %H:%M": "minute",
             "%Y-%m-%dT%H:%M": "minute"}
    return forms.get(fmt.removesuffix("Z"))


def _to_char(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        code = fmt[i:i + 2]
        if code in _FORMATS:
            out.append(_FORMATS[code])
            i += 2
        elif code == "%%":
            out.append('"%"')
            i += 2
        elif fmt[i] == "%":
            raise NotPortable(f"strftime's {code} has no to_char equivalent here")
        else:
            j = i
            while j < len(fmt) and fmt[j] != "%":
                j += 1
            literal = fmt[i:j].replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{literal}"')
            i = j
    return "".join(out)


def _stored(text: str, declared: str) -> tuple[Any, str]:
    """The value SQLite stores for the default ``text`` in a column of ``declared`` type, and
    its storage class: SQLite computes it (affinity applied), in a database of its own."""
    with closing(sqlite3.connect(":memory:")) as db:
        try:
            db.execute(f"CREATE TABLE d (x {affinity(declared)} DEFAULT ({text}), k)")
            db.execute("INSERT INTO d (k) VALUES (1)")
            value, stored = db.execute("SELECT x, typeof(x) FROM d").fetchone()
        except (sqlite3.Error, sqlite3.Warning) as e:
            raise NotPortable(f"SQLite cannot compute it alone ({e})") from None
    return value, str(stored)


def _literal(value: Any, stored: str, base: str, pg_type: str) -> str:
    """``value`` (of SQLite storage class ``stored``) as a literal of ``pg_type``."""
    def refuse(why: str = "") -> NotPortable:
        return NotPortable(why or f"{value!r} is not a value of the {pg_type} column")

    try:
        if base in ("bigint", "integer", "smallint"):
            if stored != "integer":
                raise refuse()
            convert.converter({"bigint": "int64", "integer": "int32", "smallint": "int16"}[
                base])(pa.array([value], pa.int64()))
            return render(sql.Literal(int(value)))
        if base in ("double precision", "real"):
            if stored not in ("integer", "real") or (stored == "integer"
                                                     and abs(value) > 2**53):
                raise refuse()
            return render(sql.SQL("{}::double precision").format(sql.Literal(repr(float(value)))))
        if base == "numeric":
            if stored not in ("integer", "real"):
                raise refuse()
            number = str(value) if stored == "integer" else repr(float(value))
            return render(sql.SQL("{}::{}").format(sql.Literal(number), sql.SQL(pg_type)))
        if base == "boolean":
            word = str(value).lower() if stored in ("integer", "text") else ""
            if word not in convert.BOOL_TEXT:
                raise refuse()
            return "true" if convert.BOOL_TEXT[word] else "false"
        if base == "bytea":
            data = value if stored == "blob" else str(value).encode()
            return render(sql.Literal(bytes(data)))
        if stored == "blob":
            raise refuse()
        if base in ("timestamp", "timestamptz", "date"):
            if stored != "text":
                raise refuse()
            fn = {"timestamp": timetext.to_naive, "timestamptz": timetext.to_utc,
                  "date": timetext.to_date}[base]
            fn(pa.array([value], pa.string()))  # (ValueError: not in the time grammar)
            if base == "timestamptz" and not timetext.has_zone(pa.array([value])):
                value = str(fn(pa.array([value], pa.string()))[0].as_py().isoformat())
            return render(sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(base)))
        if base == "jsonb":
            convert.to_jsonb(pa.array([str(value)], pa.string()))
            return render(sql.SQL("{}::jsonb").format(sql.Literal(str(value))))
        text = str(value) if stored != "real" else repr(float(value))
        if base == "varchar":
            m = re.search(r"\((\d+)\)", pg_type)
            if m and len(text) > int(m.group(1)):
                raise refuse(f"{text!r} is longer than {pg_type}")
        if "\x00" in text:
            raise refuse("a NUL character, which PostgreSQL text cannot hold")
        return render(sql.Literal(text))
    except (ValueError, convert.ConversionError) as e:
        raise refuse(str(e)) from None
