"""Cell-by-cell comparison of a SQLite table with its PostgreSQL copy, reading both sides.

Each source value is normalised by the *target column type* with independent Python code
(not the copier's Arrow conversions), so a conversion bug shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from transfer.model import Plan, TablePlan


def _float_bits(x: float) -> bytes:
    return struct.pack(">d", x)


def _parse_time(text: str, tz: bool) -> dt.datetime:
    t = text.strip()
    if len(t) == 10:
        t += " 00:00:00"
    value = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if tz:
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    return value


def norm_source(v: Any, pg_type: str, conversion: str = "") -> Any:
    base = pg_type.split("(")[0]
    if v is None:
        return None
    if base == "boolean":
        if isinstance(v, bytes):
            v = v.decode()
        return v in (1, "1") or str(v).lower() in ("t", "true", "yes", "y")
    if base in ("bigint", "integer", "smallint"):
        return int(v)
    if base == "double precision":
        return _float_bits(float(v))
    if base == "numeric":
        d = Decimal(repr(v) if isinstance(v, float) else str(v))
        if "," not in pg_type:  # (numeric without a scale: the value as it is)
            return d
        return d.quantize(Decimal(1).scaleb(-int(pg_type.split(",")[1].rstrip(")"))))
    if base in ("timestamp", "timestamptz"):
        if isinstance(v, int):  # epoch seconds, or milliseconds
            ms = conversion.startswith("epoch_ms_")
            value = dt.datetime.fromtimestamp(v // 1000 if ms else v, dt.UTC) + \
                dt.timedelta(milliseconds=v % 1000 if ms else 0)
            return value if base == "timestamptz" else value.replace(tzinfo=None)
        return _parse_time(v.decode() if isinstance(v, bytes) else v, base == "timestamptz")
    if base == "date":
        return dt.date.fromisoformat(v.decode() if isinstance(v, bytes) else v)
    if base == "jsonb":
        return json.loads(v.decode() if isinstance(v, bytes) else v)
    if base == "bytea":
        if isinstance(v, bytes):
            return v
        if isinstance(v, float):
            return repr(v).encode()
        return str(v).encode()
    # text, varchar, json
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, float):
        return _float_bits(v)
    return str(v)


def norm_target(v: Any, pg_type: str) -> Any:
    base = pg_type.split("(")[0]
    if v is None:
        return None
    if base == "double precision":
        return _float_bits(v)
    if base == "timestamptz":
        return v.astimezone(dt.UTC)
    if base == "bytea":
        return bytes(v)
    return v


def compare_table(source: Path, dsn: str, t: TablePlan, schema: str = "public") -> list[str]:
    conn = sqlite3.connect(source)
    conn.text_factory = bytes
    q = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    cols = ", ".join(q(c.name) for c in t.columns)
    src = conn.execute(f"SELECT {cols} FROM {q(t.name)}").fetchall()
    conn.close()
    with psycopg.connect(dsn) as pg:
        dst = pg.execute(sql.SQL("SELECT {} FROM {}.{}").format(
            sql.SQL(", ").join(  # json as its text: it must be kept as written
                sql.SQL("{}::text" if c.pg_type == "json" else "{}").format(
                    sql.Identifier(c.pg_name)) for c in t.columns),
            sql.Identifier(schema), sql.Identifier(t.pg_name))).fetchall()
    diffs = []
    if len(src) != len(dst):
        diffs.append(f"{t.name}: {len(src)} rows in SQLite, {len(dst)} in PostgreSQL")
    a = []
    for row in src:
        out = []
        for v, c in zip(row, t.columns, strict=True):
            if c.pg_type.split("(")[0] in ("text", "varchar", "json", "bytea") and \
                    isinstance(v, float):
                # mixed column kept as text (or its bytes): the text must denote exactly
                # this double
                out.append(("float-as-text", _float_bits(v)))
            else:
                out.append(norm_source(v, c.pg_type, c.convert))
        a.append(out)
    b = [[norm_target(v, c.pg_type) for v, c in zip(row, t.columns, strict=True)]
         for row in dst]
    # A real kept in a text column is compared by value: the text must parse to its bits.
    for ra in a:
        for i, v in enumerate(ra):
            if isinstance(v, tuple):
                ra[i] = v[1]
    key = lambda r: repr(r)  # noqa: E731
    sa, sb = sorted(a, key=key), sorted(b, key=key)
    for ra, rb in zip(sa, sb, strict=False):
        for c, va, vb in zip(t.columns, ra, rb, strict=True):
            if va != vb and not _float_text_equal(va, vb):
                diffs.append(f"{t.name}.{c.name}: source {va!r} != target {vb!r}")
    return diffs


def _float_text_equal(bits: Any, text: Any) -> bool:
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return False
    if isinstance(bits, bytes) and len(bits) == 8 and isinstance(text, str):
        try:
            return _float_bits(float(text)) == bits
        except ValueError:
            return False
    return False


def compare_all(source: Path, dsn: str, plan: Plan, schema: str = "public") -> list[str]:
    diffs: list[str] = []
    for t in plan.tables:
        diffs += compare_table(source, dsn, t, schema)
    return diffs
