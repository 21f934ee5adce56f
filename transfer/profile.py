"""Stage 2b, profile: what the source really stores, one aggregate scan per table.

Every check is a named SQL predicate over one column (``PREDICATES``). The scan counts the
rows matching each predicate the column's kind needs; when a count shows a problem, the
same predicate finds example rows to name in the report. Texts holding bytes outside
ASCII are decoded in Python to find invalid UTF-8 (SQLite does not check encodings).
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from transfer import source as source_mod
from transfer.catalog import Catalog, Table
from transfer.errors import SourceError

_ISO_DATE = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]"
_ISO_TIME = "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
_DATE_OK = "date(substr({c},1,10),'+0 days') IS substr({c},1,10)"
_TIME_OK = "substr({c},12,2) <= '23'"
# Fraction of 1 to 6 digits at position 20 (after "YYYY-MM-DD HH:MM:SS").
_FRAC = "substr({c},20,1) = '.' AND length({c}) BETWEEN 21 AND 26 AND NOT substr({c},21) GLOB '*[^0-9]*'"

PREDICATES: dict[str, str] = {
    "null": "{c} IS NULL",
    "integer": "typeof({c}) = 'integer'",
    "real": "typeof({c}) = 'real'",
    "text": "typeof({c}) = 'text'",
    "blob": "typeof({c}) = 'blob'",
    # integers a double cannot hold exactly
    "int_beyond_double": "typeof({c}) = 'integer' AND ({c} > 9007199254740992 OR {c} < -9007199254740992)",
    "real_not_integral": "typeof({c}) = 'real' AND {c} <> CAST({c} AS INTEGER)",
    "real_infinite": "typeof({c}) = 'real' AND ({c} = 9e999 OR {c} = -9e999)",
    # PostgreSQL text cannot hold NUL; non-ASCII texts are checked for valid UTF-8 in Python
    "text_nul": "typeof({c}) = 'text' AND instr(CAST({c} AS BLOB), x'00') > 0",
    "text_non_ascii": "typeof({c}) = 'text' AND length(CAST({c} AS BLOB)) <> length({c})",
    "bool_int": "typeof({c}) = 'integer' AND {c} IN (0, 1)",
    "bool_text": "typeof({c}) = 'text' AND lower({c}) IN ('t','f','true','false','yes','no','y','n')",
    "ts_naive": (
        f"typeof({{c}}) = 'text' AND (({{c}} GLOB '{_ISO_DATE}[ T]{_ISO_TIME}' AND length({{c}}) = 19)"
        f" OR ({{c}} GLOB '{_ISO_DATE}[ T]{_ISO_TIME}.*' AND {_FRAC})"
        f" OR ({{c}} GLOB '{_ISO_DATE}' AND length({{c}}) = 10))"
        f" AND {_DATE_OK} AND ({_TIME_OK} OR length({{c}}) = 10)"
    ),
    "ts_offset": (
        f"typeof({{c}}) = 'text' AND {{c}} GLOB '{_ISO_DATE}[ T]{_ISO_TIME}*'"
        " AND (substr({c},-1) = 'Z' OR substr({c},-6) GLOB '[+-][0-2][0-9]:[0-5][0-9]')"
        " AND (length({c}) IN (20, 25) OR (substr({c},20,1) = '.' AND"
        " NOT rtrim(substr({c},21), 'Z:+-0123456789') <> '' AND length({c}) <= 32))"
        f" AND {_DATE_OK} AND {_TIME_OK}"
    ),
    "date_iso": f"typeof({{c}}) = 'text' AND {{c}} GLOB '{_ISO_DATE}' AND {_DATE_OK}",
    "json_valid": "typeof({c}) = 'text' AND json_valid({c})",
    "json_nul": "typeof({c}) = 'text' AND instr({c}, '\\u0000') > 0",
}


@dataclass
class ColumnProfile:
    counts: dict[str, int] = field(default_factory=dict)
    int_min: int | None = None
    int_max: int | None = None
    text_max_chars: int | None = None
    invalid_utf8: int = 0
    invalid_utf8_example: str | None = None  # row identifier
    numeric_fit: int | None = None  # values fitting the declared numeric(p,s)

    def n(self, name: str) -> int:
        return self.counts.get(name, 0)

    @property
    def classes(self) -> list[str]:
        """Storage classes found; text PostgreSQL cannot hold counts as blob."""
        found = [c for c in ("integer", "real", "text", "blob") if self.n(c)]
        if self.n("text") and self.unholdable_text == self.n("text"):
            found.remove("text")
            if "blob" not in found:
                found.append("blob")
        elif self.unholdable_text and "blob" not in found:
            found.append("blob")
        return found

    @property
    def unholdable_text(self) -> int:
        return self.n("text_nul") + self.invalid_utf8

    @property
    def non_null(self) -> int:
        return sum(self.n(c) for c in ("integer", "real", "text", "blob"))


@dataclass
class TableProfile:
    rows: int
    sampled: bool
    columns: dict[str, ColumnProfile]
    rowid_max: int | None = None
    pk_nulls: int = 0


def row_ref(table: Table) -> str:
    """SQL naming a row: the rowid, or the primary key columns of a WITHOUT ROWID table."""
    if table.without_rowid or table.kind == "virtual":
        cols = table.pk or [table.columns[0].name]
        return " || ', ' || ".join(f"quote({quote_ident(c)})" for c in cols)
    return "rowid"


def row_label(table: Table) -> str:
    if table.without_rowid or table.kind == "virtual":
        return ", ".join(table.pk or [table.columns[0].name])
    return table.rowid_alias or "rowid"


def quote_ident(name: str) -> str:
    """SQLite identifier quoting (the source side; PostgreSQL names go through psycopg.sql)."""
    return '"' + name.replace('"', '""') + '"'


def predicate(name: str, column: str) -> str:
    return PREDICATES[name].replace("{c}", quote_ident(column))


def needed_predicates(kind: str) -> list[str]:
    base = ["null", "integer", "real", "text", "blob", "int_beyond_double", "real_not_integral",
            "real_infinite", "text_nul", "text_non_ascii"]
    extra = {
        "boolean": ["bool_int", "bool_text"],
        "timestamp": ["ts_naive", "ts_offset"],
        "date": ["date_iso"],
        "json": ["json_valid", "json_nul"],
    }.get(kind, [])
    return base + extra


def numeric_fit_sql(column: str, p: int, s: int) -> str:
    c = quote_ident(column)
    bound = f"1e{p - s}"
    return (
        f"(typeof({c}) = 'integer' AND {c} > -{bound} AND {c} < {bound}) OR "
        f"(typeof({c}) = 'real' AND {c} > -{bound} AND {c} < {bound} AND "
        f"CAST(printf('%.{s}f', {c}) AS REAL) = {c})"
    )


def profile_table(conn: sqlite3.Connection, table: Table, kinds: dict[str, str],
                  numeric: dict[str, tuple[int, int]], sample: int = 0) -> TableProfile:
    """One scan of ``table`` computing every count its columns' kinds need."""
    src = quote_ident(table.name)
    if sample:
        src = f"(SELECT * FROM {src} LIMIT {int(sample)})"
    exprs = ["count(*)"]
    slots: list[tuple[str, str]] = []
    cols = [c for c in table.columns if not c.is_generated]
    for col in cols:
        c = quote_ident(col.name)
        for name in needed_predicates(kinds[col.name]):
            exprs.append(f"sum({predicate(name, col.name)})")
            slots.append((col.name, name))
        exprs.append(f"min(CASE WHEN typeof({c}) = 'integer' THEN {c} END)")
        slots.append((col.name, "#int_min"))
        exprs.append(f"max(CASE WHEN typeof({c}) = 'integer' THEN {c} END)")
        slots.append((col.name, "#int_max"))
        exprs.append(f"max(CASE WHEN typeof({c}) = 'text' THEN length({c}) END)")
        slots.append((col.name, "#text_max"))
        if col.name in numeric:
            p, s = numeric[col.name]
            exprs.append(f"sum({numeric_fit_sql(col.name, p, s)})")
            slots.append((col.name, "#numeric_fit"))
    if table.rowid_alias or (not table.without_rowid and table.kind == "table"):
        exprs.append("max(rowid)")
        slots.append(("", "#rowid_max"))
    pk_null_cols = [c for c in table.pk if table.rowid_alias != c]
    if pk_null_cols:
        cond = " OR ".join(f"{quote_ident(c)} IS NULL" for c in pk_null_cols)
        exprs.append(f"sum({cond})")
        slots.append(("", "#pk_nulls"))
    sql = f"SELECT {', '.join(exprs)} FROM {src}"
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.DatabaseError as e:
        raise SourceError(f"cannot profile table {table.name!r}: {e}; check that the "
                          "database is intact (PRAGMA integrity_check).") from None
    profile = TableProfile(rows=row[0], sampled=bool(sample), columns={c.name: ColumnProfile()
                                                                       for c in cols})
    for (colname, name), value in zip(slots, row[1:], strict=True):
        if name == "#rowid_max":
            profile.rowid_max = value
        elif name == "#pk_nulls":
            profile.pk_nulls = value or 0
        else:
            cp = profile.columns[colname]
            if name == "#int_min":
                cp.int_min = value
            elif name == "#int_max":
                cp.int_max = value
            elif name == "#text_max":
                cp.text_max_chars = value
            elif name == "#numeric_fit":
                cp.numeric_fit = value or 0
            else:
                cp.counts[name] = value or 0
    for col in cols:
        cp = profile.columns[col.name]
        if cp.n("text_non_ascii"):
            _check_utf8(conn, table, col.name, cp, sample)
    return profile


def _check_utf8(conn: sqlite3.Connection, table: Table, column: str, cp: ColumnProfile,
                sample: int) -> None:
    c = quote_ident(column)
    src = quote_ident(table.name)
    if sample:
        src = f"(SELECT * FROM {src} LIMIT {int(sample)})"
    sql = (f"SELECT {row_ref(table)}, CAST({c} AS BLOB) FROM {src} "
           f"WHERE {predicate('text_non_ascii', column)} AND NOT {predicate('text_nul', column)}")
    for ref, raw in conn.execute(sql):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            cp.invalid_utf8 += 1
            if cp.invalid_utf8_example is None:
                cp.invalid_utf8_example = str(ref)


def examples(conn: sqlite3.Connection, table: Table, where: str, column: str,
             limit: int = 3) -> list[tuple[str, str]]:
    """Up to ``limit`` (row identifier, quoted value) pairs of rows matching ``where``."""
    sql = (f"SELECT {row_ref(table)}, substr(quote({quote_ident(column)}), 1, 60) "
           f"FROM {quote_ident(table.name)} WHERE {where} LIMIT {int(limit)}")
    return [(str(r), str(v)) for r, v in conn.execute(sql)]


def orphan_count(conn: sqlite3.Connection, child: Table, cols: list[str], parent: str,
                 ref_cols: list[str]) -> tuple[int, list[str]]:
    """Rows of ``child`` whose FK values have no parent row (SQLite does not enforce FKs)."""
    notnull = " AND ".join(f"c.{quote_ident(c)} IS NOT NULL" for c in cols)
    match = " AND ".join(f"p.{quote_ident(r)} = c.{quote_ident(c)}"
                         for c, r in zip(cols, ref_cols, strict=True))
    base = (f"FROM {quote_ident(child.name)} AS c WHERE {notnull} AND NOT EXISTS "
            f"(SELECT 1 FROM {quote_ident(parent)} AS p WHERE {match})")
    n = conn.execute(f"SELECT count(*) {base}").fetchone()[0]
    refs: list[str] = []
    if n:
        ref = row_ref(child).replace("rowid", "c.rowid")
        if ref != "c.rowid":
            ref = " || ', ' || ".join(f"quote(c.{quote_ident(k)})"
                                      for k in (child.pk or [child.columns[0].name]))
        refs = [str(r[0]) for r in conn.execute(f"SELECT {ref} {base} LIMIT 3")]
    return n, refs


def profile_all(path: Path, catalog: Catalog, kinds: dict[str, dict[str, str]],
                numeric: dict[str, dict[str, tuple[int, int]]], sample: int = 0,
                jobs: int = 2) -> dict[str, TableProfile]:
    """Profile every table, ``jobs`` tables at a time (one connection each)."""

    def one(table: Table) -> tuple[str, TableProfile]:
        conn = source_mod.open_source(path)
        try:
            return table.name, profile_table(conn, table, kinds[table.name],
                                             numeric.get(table.name, {}), sample)
        finally:
            conn.close()

    tables = sorted(catalog.tables, key=lambda t: -len(t.columns))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, tables))
