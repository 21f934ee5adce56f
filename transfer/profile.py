"""Stage 2b, profile: what the source really stores, one scan per table.

The scan reads the table as typed Arrow batches (``transfer.reader``) and tries on them the
very conversions ``run`` will apply (``transfer.convert``), so the plan predicts what the
copy accepts. A table whose columns mix storage classes cannot be read that way; it is
profiled with named SQL predicates instead (``PREDICATES``), one aggregate scan counting
the rows matching each predicate the column's kind needs. Either way, a problem is named
with example rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from transfer import convert, reader, timetext
from transfer import source as source_mod
from transfer.catalog import Catalog, Table
from transfer.errors import SourceError
from transfer.progress import Progress
from transfer.progress import off as progress_off
from transfer.sqltext import quote_ident

PREDICATES: dict[str, str] = {
    "null": "{c} IS NULL",
    "integer": "typeof({c}) = 'integer'",
    "real": "typeof({c}) = 'real'",
    "text": "typeof({c}) = 'text'",
    "blob": "typeof({c}) = 'blob'",
    # integers a double cannot hold exactly
    "int_beyond_double": ("typeof({c}) = 'integer' AND "
                          "({c} > 9007199254740992 OR {c} < -9007199254740992)"),
    "real_not_integral": "typeof({c}) = 'real' AND {c} <> CAST({c} AS INTEGER)",
    "real_infinite": "typeof({c}) = 'real' AND ({c} = 9e999 OR {c} = -9e999)",
    # PostgreSQL text cannot hold NUL; non-ASCII texts are checked for valid UTF-8 in Python
    "text_nul": "typeof({c}) = 'text' AND instr(CAST({c} AS BLOB), x'00') > 0",
    # anything but printable ASCII (invalid UTF-8 too: a byte >= 0x80 never reads as
    # printable ASCII; length() would not tell, it skips continuation bytes only)
    "text_non_ascii": "typeof({c}) = 'text' AND {c} GLOB '*[^ -~]*'",
    "bool_int": "typeof({c}) = 'integer' AND {c} IN (0, 1)",
    # (the words of convert.BOOL_TEXT, the copy's own: one list)
    "bool_text": ("typeof({c}) = 'text' AND lower({c}) IN ("
                  + ", ".join(f"'{w}'" for w in convert.BOOL_TEXT) + ")"),
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
    fits: dict[str, bool] = field(default_factory=dict)  # conversion name -> every value fits
    fail_rows: dict[str, list[str]] = field(default_factory=dict)  # conversion -> example rows
    # a COLLATE NOCASE column: texts holding a letter with a case beyond ASCII (Ä, ä), which
    # citext folds and SQLite's NOCASE (ASCII only) does not, and up to 3 of their rows
    nocase_folds: int = 0
    nocase_fold_rows: list[str] = field(default_factory=list)

    def ok(self, conversion: str) -> bool:
        return self.fits.get(conversion, False)

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


def predicate(name: str, column: str) -> str:
    """The named predicate on ``column``, parenthesized (safe under NOT, AND, OR)."""
    return "(" + PREDICATES[name].replace("{c}", quote_ident(column)) + ")"


def needed_predicates(kind: str) -> list[str]:
    base = ["null", "integer", "real", "text", "blob", "int_beyond_double", "real_not_integral",
            "real_infinite", "text_nul", "text_non_ascii"]
    extra = {
        "boolean": ["bool_int", "bool_text"],
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
    src = _rows_of(table, sample)
    exprs = ["count(*)"]
    slots: list[tuple[str, str]] = []
    cols = list(table.columns)
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
            _check_utf8(conn, table, col.name, cp, sample, col.collation == "NOCASE")
        _fits_from_counts(cp)
        if kinds[col.name] == "json" and cp.fits.get("jsonb"):
            _check_json_keys(conn, table, col.name, cp, sample)
        if (kinds[col.name] in ("timestamp", "date") and set(cp.classes) == {"text"}) or (
                kinds[col.name] in ("int_text", "real_text") and cp.n("text")):
            _try_text(conn, table, col.name, cp, sample, TEXT_TRIALS[kinds[col.name]])
    return profile


def _rows_of(table: Table, sample: int) -> str:
    """The table, or its first ``sample`` rows, as a FROM item."""
    src = quote_ident(table.name)
    return f"(SELECT * FROM {src} LIMIT {int(sample)})" if sample else src


def _check_json_keys(conn: sqlite3.Connection, table: Table, column: str, cp: ColumnProfile,
                     sample: int) -> None:
    """The duplicate-key search of ``convert.to_jsonb``, on this path's text values."""
    c, src = quote_ident(column), _rows_of(table, sample)
    cur = conn.execute(f"SELECT {row_ref(table)}, {c} FROM {src} WHERE typeof({c}) = 'text'")
    while rows := cur.fetchmany(16384):
        bad = convert.duplicate_keys(pa.array([r[1] for r in rows], pa.string()))
        if bad is not None:
            cp.fits["jsonb"] = False
            cp.fail_rows.setdefault("jsonb", []).append(f"{row_label(table)}={rows[bad][0]}")
            return


def _try_text(conn: sqlite3.Connection, table: Table, column: str, cp: ColumnProfile,
              sample: int, conversions: list[str]) -> None:
    """The copy's own conversions tried on this path's text values (as the Arrow path tries
    them), so that both paths decide by one grammar (transfer.timetext)."""
    c, src = quote_ident(column), _rows_of(table, sample)
    cur = conn.execute(f"SELECT {row_ref(table)}, {c} FROM {src} WHERE typeof({c}) = 'text'")
    for name in conversions:
        cp.fits[name] = True
    while rows := cur.fetchmany(16384):
        arr = pa.array([r[1] for r in rows], pa.string())
        for name in conversions:
            if not cp.fits[name]:
                continue
            bad = convert.first_failure(convert.converter(name), arr)
            if bad is not None:
                cp.fits[name] = False
                cp.fail_rows.setdefault(name, []).append(f"{row_label(table)}={rows[bad][0]}")


def _fits_from_counts(cp: ColumnProfile) -> None:
    """The SQL path's estimate of which conversions fit (Arrow stays the judge at run)."""
    only = set(cp.classes)
    text = cp.n("text")
    lo, hi = cp.int_min, cp.int_max
    cp.fits["bool"] = (only <= {"integer", "text"} and cp.n("integer") == cp.n("bool_int")
                       and text == cp.n("bool_text"))
    if only == {"integer"} and lo is not None and hi is not None:
        _integer_fits(cp, lo, hi)
    if only == {"text"}:
        cp.fits["jsonb"] = cp.n("json_valid") == text and not cp.n("json_nul")
        cp.fits["json"] = cp.n("json_valid") == text


def _integer_fits(cp: ColumnProfile, lo: int, hi: int) -> None:
    """Which integer conversions hold every value from ``lo`` to ``hi``."""
    cp.fits["int16"] = -(2**15) <= lo and hi < 2**15
    cp.fits["int32"] = -(2**31) <= lo and hi < 2**31
    unit = timetext.epoch_unit(lo, hi)
    cp.fits["epoch_timestamp"] = cp.fits["epoch_timestamptz"] = unit == "s"
    cp.fits["epoch_ms_timestamp"] = cp.fits["epoch_ms_timestamptz"] = unit == "ms"


# Conversions tried on text columns of each kind (see transfer.convert).
TEXT_TRIALS = {"timestamp": ["timestamp", "timestamptz"], "date": ["date"],
               "int_text": ["text_int64", "text_int32", "text_int16"],
               "real_text": ["text_float64"], "uuid": ["uuid_text"], "time": ["time_text"],
               "rails_time": ["rails_time_text"],
               "inet": ["inet_text"],
               "boolean": ["bool"], "json": ["jsonb"]}


SPLIT_ROWS = 250_000  # a table with more rows is scanned in rowid ranges, in parallel
PROFILE_BATCH_ROWS = 8192  # (smaller batches were slower; larger, 10 MiB more peak RSS)


def profile_table_arrow(path: Path, conn: sqlite3.Connection, table: Table,
                        kinds: dict[str, str], numeric: dict[str, tuple[int, int]],
                        sample: int = 0, jobs: int = 2,
                        scans: ThreadPoolExecutor | None = None) -> TableProfile:
    """Profile from typed Arrow batches; raises ``reader.MixedTypes`` for mixed columns.

    Counts that Arrow cannot see (integers beyond 2^53 read into a double column, valid
    JSON texts) are extra integer columns of the same scan. A large table is scanned in
    ``jobs`` rowid ranges at once (the driver releases the GIL while it reads), on the
    ``scans`` pool when given (which bounds the scans of all tables together).
    """
    cols = list(table.columns)
    exprs: list[tuple[str, str]] = []
    for col in cols:
        q = quote_ident(col.name)
        first = conn.execute(f"SELECT typeof({q}) FROM {quote_ident(table.name)} "
                             f"WHERE {q} IS NOT NULL LIMIT 1").fetchone()
        exprs.append((q, first[0] if first else "integer"))
    extra: list[tuple[str, str]] = []  # (column, count name) of each extra column
    for col, (_q, cls) in zip(cols, list(exprs), strict=True):
        # The driver converts silently into the first value's type (an integer into a
        # double, a number into text, text into bytes): count what it would hide.
        if cls == "real" and not (col.affinity == "REAL" and table.kind == "table"):
            # (REAL affinity stores every integer as a real: nothing to count)
            extra.append((col.name, "int_beyond_double"))
            extra.append((col.name, "integer"))
        elif cls in ("text", "blob"):
            extra.append((col.name, f"not_{cls}"))
        if kinds[col.name] == "json":
            extra.append((col.name, "json_valid"))
        if col.name in numeric:
            extra.append((col.name, "numeric_fit"))
    for name, what in extra:
        if what == "numeric_fit":
            cond = numeric_fit_sql(name, *numeric[name])
        elif what.startswith("not_"):
            cond = f"typeof({quote_ident(name)}) NOT IN ('{what[4:]}', 'null')"
        else:
            cond = predicate(what, name)
        exprs.append((f"({cond})", "integer"))
    has_rowid = not table.without_rowid
    if has_rowid:
        exprs.append(("rowid", "integer"))
    ranges: list[str | None] = [None]
    if has_rowid and not sample and jobs > 1:
        lo, hi, n = conn.execute(f"SELECT min(rowid), max(rowid), count(*) FROM "
                                 f"{quote_ident(table.name)}").fetchone()
        if n > SPLIT_ROWS:
            step = (hi - lo) // jobs + 1
            ranges = [f"rowid >= {lo + i * step} AND rowid < {lo + (i + 1) * step}"
                      for i in range(jobs)]
    label = row_label(table)

    def scan(where: str | None) -> tuple[TableProfile, dict[tuple[str, str], int]]:
        query = reader.typed_query(table.name, exprs, where=where)
        if sample:
            query += f" LIMIT {int(sample)} + {{sentinels}}"
        profs = {c.name: ColumnProfile() for c in cols}
        sums = {key: 0 for key in extra}
        rows = 0
        rowid_max: int | None = None
        with contextlib.closing(reader.connect(path)) as aconn:
            for batch in reader.batches(aconn, query, PROFILE_BATCH_ROWS):
                ids = batch.column(len(exprs) - 1) if has_rowid else None
                for i, col in enumerate(cols):
                    _profile_array(batch.column(i), profs[col.name], kinds[col.name], ids,
                                   rows, label, col.collation == "NOCASE")
                for j, key in enumerate(extra):
                    sums[key] += pc.sum(batch.column(len(cols) + j)).as_py() or 0
                if ids is not None and len(ids):
                    top = pc.max(ids).as_py()
                    rowid_max = top if rowid_max is None or top > rowid_max else rowid_max
                rows += batch.num_rows
        return TableProfile(rows=rows, sampled=bool(sample), columns=profs,
                            rowid_max=rowid_max), sums

    if scans is not None:
        parts = [f.result() for f in [scans.submit(scan, r) for r in ranges]]
    elif len(ranges) == 1:
        parts = [scan(ranges[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            parts = list(pool.map(scan, ranges))
    profile = parts[0][0]
    sums = parts[0][1]
    for other, other_sums in parts[1:]:
        _merge(profile, other)
        for key, v in other_sums.items():
            sums[key] += v
    rows = profile.rows
    for col in cols:
        cp = profile.columns[col.name]
        cp.counts["null"] = rows - cp.non_null
        if sums.get((col.name, "not_text"), 0) or sums.get((col.name, "not_blob"), 0):
            raise reader.MixedTypes(f"{table.name}.{col.name} mixes storage classes")
        big = sums.get((col.name, "int_beyond_double"), 0)
        if big:
            cp.counts["int_beyond_double"] = big
        ints = sums.get((col.name, "integer"), 0)
        if ints:
            cp.counts["integer"] = ints
            cp.counts["real"] = cp.n("real") - ints
        if (col.name, "json_valid") in sums and cp.n("text"):
            cp.counts["json_valid"] = sums[(col.name, "json_valid")]
            cp.fits["json"] = cp.n("json_valid") == cp.n("text")
            cp.fits["jsonb"] = cp.fits["json"] and cp.fits.get("jsonb", False)
        if (col.name, "numeric_fit") in sums:
            cp.numeric_fit = sums[(col.name, "numeric_fit")]
    pk_null_cols = [c for c in table.pk if table.rowid_alias != c]
    if pk_null_cols:
        cond = " OR ".join(f"{quote_ident(c)} IS NULL" for c in pk_null_cols)
        profile.pk_nulls = conn.execute(
            f"SELECT count(*) FROM {quote_ident(table.name)} WHERE {cond}").fetchone()[0]
    return profile


def _merge(into: TableProfile, other: TableProfile) -> None:
    """Add the profile of another rowid range of the same table."""
    into.rows += other.rows
    if other.rowid_max is not None:
        into.rowid_max = max(into.rowid_max or other.rowid_max, other.rowid_max)
    for name, b in other.columns.items():
        a = into.columns[name]
        for k, v in b.counts.items():
            a.counts[k] = a.n(k) + v
        if b.int_min is not None and b.int_max is not None:
            a.int_min = b.int_min if a.int_min is None else min(a.int_min, b.int_min)
            a.int_max = b.int_max if a.int_max is None else max(a.int_max, b.int_max)
            _integer_fits(a, a.int_min, a.int_max)
        if b.text_max_chars is not None:
            a.text_max_chars = max(a.text_max_chars or 0, b.text_max_chars)
        a.invalid_utf8 += b.invalid_utf8
        a.invalid_utf8_example = a.invalid_utf8_example or b.invalid_utf8_example
        a.nocase_folds += b.nocase_folds
        a.nocase_fold_rows = (a.nocase_fold_rows + b.nocase_fold_rows)[:3]
        for k, ok in b.fits.items():
            a.fits[k] = a.fits.get(k, True) and ok
        for k, refs in b.fail_rows.items():
            a.fail_rows[k] = (a.fail_rows.get(k, []) + refs)[:3]


def _profile_array(arr: pa.Array, cp: ColumnProfile, kind: str, ids: pa.Array | None,
                   offset: int, label: str, nocase: bool = False) -> None:
    valid = len(arr) - arr.null_count
    if not valid:
        return
    typ = arr.type

    def note(conversion: str, fn: Callable[[pa.Array], pa.Array]) -> None:
        if not cp.fits.get(conversion, True):
            return  # already failed in an earlier batch
        bad = convert.first_failure(fn, arr)
        if bad is None:
            cp.fits[conversion] = True
            return
        cp.fits[conversion] = False
        ref = ids[bad].as_py() if ids is not None else offset + bad + 1
        cp.fail_rows.setdefault(conversion, []).append(f"{label}={ref}")

    if pa.types.is_integer(typ):
        cp.counts["integer"] = cp.n("integer") + valid
        lo, hi = (v.as_py() for v in pc.min_max(arr).values())
        cp.int_min = lo if cp.int_min is None else min(cp.int_min, lo)
        cp.int_max = hi if cp.int_max is None else max(cp.int_max, hi)
        _integer_fits(cp, cp.int_min, cp.int_max)
        if cp.int_min < -(2**53) or cp.int_max > 2**53:
            cp.counts["int_beyond_double"] = 1
        if kind == "boolean":
            note("bool", convert.to_bool)
    elif pa.types.is_floating(typ):
        cp.counts["real"] = cp.n("real") + valid
        cp.counts["real_infinite"] = cp.n("real_infinite") + pc.sum(pc.is_inf(arr)).as_py()
    elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        cp.counts["blob"] = cp.n("blob") + valid
    else:
        cp.counts["text"] = cp.n("text") + valid
        try:
            arr.validate(full=True)
        except pa.ArrowInvalid:
            for i, raw in enumerate(arr.cast(pa.binary()).to_pylist()):
                if raw is None:
                    continue
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    cp.invalid_utf8 += 1
                    if cp.invalid_utf8_example is None:
                        ref = ids[i].as_py() if ids is not None else offset + i + 1
                        cp.invalid_utf8_example = f"{label}={ref}"
            return
        nul = pc.sum(pc.match_substring(arr, "\x00")).as_py() or 0
        cp.counts["text_nul"] = cp.n("text_nul") + nul
        if nocase:
            # (a letter with a case beyond ASCII: é as much as É, which lower() makes equal)
            folds = pc.fill_null(pc.or_(
                pc.not_equal(pc.utf8_lower(arr), pc.ascii_lower(arr)),
                pc.not_equal(pc.utf8_upper(arr), pc.ascii_upper(arr))), False)
            found = pc.indices_nonzero(folds)
            cp.nocase_folds += len(found)
            for i in found.slice(0, 3 - len(cp.nocase_fold_rows)).to_pylist():
                ref = ids[i].as_py() if ids is not None else offset + i + 1
                cp.nocase_fold_rows.append(f"{label}={ref}")
        longest = pc.max(pc.utf8_length(arr)).as_py()
        cp.text_max_chars = max(cp.text_max_chars or 0, longest or 0)
        for conversion in TEXT_TRIALS.get(kind, []):
            note(conversion, convert.converter(conversion))


def _check_utf8(conn: sqlite3.Connection, table: Table, column: str, cp: ColumnProfile,
                sample: int, nocase: bool = False) -> None:
    """The texts beyond printable ASCII: invalid UTF-8 counted, and in a NOCASE column the
    texts holding a letter with a case beyond ASCII (as the Arrow path counts them)."""
    c, src = quote_ident(column), _rows_of(table, sample)
    sql = (f"SELECT {row_ref(table)}, CAST({c} AS BLOB) FROM {src} "
           f"WHERE {predicate('text_non_ascii', column)} AND NOT {predicate('text_nul', column)}")
    for ref, raw in conn.execute(sql):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            cp.invalid_utf8 += 1
            if cp.invalid_utf8_example is None:
                cp.invalid_utf8_example = str(ref)
            continue
        if nocase and (text.lower() != text.translate(_ASCII_LOWER)
                       or text.upper() != text.translate(_ASCII_UPPER)):
            cp.nocase_folds += 1
            if len(cp.nocase_fold_rows) < 3:
                cp.nocase_fold_rows.append(f"{row_label(table)}={ref}")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def examples(conn: sqlite3.Connection, table: Table, where: str, column: str,
             limit: int = 3) -> list[tuple[str, str]]:
    """Up to ``limit`` (row identifier, quoted value) pairs of rows matching ``where``."""
    sql = (f"SELECT {row_ref(table)}, substr(quote({quote_ident(column)}), 1, 60) "
           f"FROM {quote_ident(table.name)} WHERE {where} LIMIT {int(limit)}")
    return [(str(r), str(v)) for r, v in conn.execute(sql)]


def orphan_count(conn: sqlite3.Connection, child: Table, cols: list[str], parent: str,
                 ref_cols: list[str]) -> tuple[int, list[str]]:
    """Rows of ``child`` whose FK values have no parent row as PostgreSQL compares keys:
    bytewise (SQLite does not enforce FKs, and would match text under the parent's
    collation: 'ABC' finds a NOCASE parent 'abc' there, not in PostgreSQL)."""
    notnull = " AND ".join(f"c.{quote_ident(c)} IS NOT NULL" for c in cols)
    match = " AND ".join(f"p.{quote_ident(r)} = c.{quote_ident(c)} COLLATE BINARY"
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
                jobs: int = 2, progress: Progress | None = None) -> dict[str, TableProfile]:
    """Profile every table, ``jobs`` tables at a time (one connection each); ``progress``
    shows the tables done."""
    meter = progress or progress_off()
    meter.begin("profile", len(catalog.tables), "tables")
    done = {"tables": 0, "rows": 0}

    # The connections are closed only when every scan is done: closing one drops the
    # locks the other SQLite library's scans hold on the file (POSIX locks are per process).
    opened: list[sqlite3.Connection] = []
    lock = threading.Lock()
    local = threading.local()  # one connection per coordinating thread

    def one(table: Table) -> tuple[str, TableProfile]:
        name, found = profile_one(table)
        with lock:
            done["tables"] += 1
            done["rows"] += found.rows
            tables_done, rows = done["tables"], done["rows"]
        meter.update("profile", tables_done, current=name, rows=rows)
        return name, found

    def profile_one(table: Table) -> tuple[str, TableProfile]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = source_mod.open_source(path)
            with lock:
                opened.append(conn)
        args = (table, kinds[table.name], numeric.get(table.name, {}), sample)
        if table.unreadable:  # (a blocker of the plan: nothing to profile)
            return table.name, TableProfile(rows=0, sampled=bool(sample), columns={})
        try:
            try:
                return table.name, profile_table_arrow(path, conn, *args, jobs=jobs,
                                                       scans=scans)
            except reader.MixedTypes:
                return table.name, profile_table(conn, *args)
        except sqlite3.DatabaseError as e:
            raise source_mod.describe_sqlite_error(path, e) from None

    # Tables are coordinated side by side; their scans share ``jobs`` threads, so that
    # memory and CPU stay bounded however many tables there are.
    tables = sorted(catalog.tables, key=lambda t: -len(t.columns))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as scans, \
                ThreadPoolExecutor(max_workers=max(1, min(len(tables), 8))) as tables_pool:
            return dict(tables_pool.map(one, tables))
    finally:
        meter.end("profile")
        for conn in opened:
            conn.close()
