"""Stage 7, verify: row counts and content checksums of every table, on both sides.

Each row is turned into one canonical text (``transfer.canonical``), and the first 64 bits
of the texts' SHA-256 are summed per table (modulo 2^64, so the order of the rows does not
matter). The PostgreSQL side is computed by the server from what it holds; the SQLite side
is computed here from the source values and the plan's mapping, by code of its own (it
never reuses the copier's conversions, or it would prove nothing).

When a table's sums differ, its rows are split into buckets by a hash of the primary key
(of the whole row for tables without one; a hash because SQLite and PostgreSQL sort text
differently, so key ranges would not line up), the bucket sums are compared, and the rows of
the differing buckets are compared one by one: each missing, extra or differing row is named
by its primary key, with the columns that differ.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from transfer import reader, target
from transfer.canonical import (
    JSONB,
    OTHER,
    TEXT,
    fields_of,
    kind_of,
    pg_field,
    pg_joined,
    row_hashes,
    source_expr,
    source_value_text,
)
from transfer.model import Plan, TablePlan
from transfer.progress import Progress
from transfer.progress import off as progress_off
from transfer.settings import BATCH_ROWS, JOBS, VERIFY_CHUNK_ROWS, VERIFY_LIMIT
from transfer.sqltext import quote_ident


# -- results --------------------------------------------------------------------------
@dataclass
class RowDifference:
    kind: str  # "differs", "missing" (in PostgreSQL), "extra" (only in PostgreSQL)
    key: str
    columns: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        what = {"differs": "differs", "missing": "is missing in PostgreSQL",
                "extra": "is in PostgreSQL only"}[self.kind]
        cols = f" (columns: {', '.join(self.columns)})" if self.columns else ""
        return f"row {self.key} {what}{cols}"


@dataclass
class TableVerdict:
    table: str
    pg_table: str
    source_rows: int = 0
    target_rows: int = 0
    equal: bool = False
    error: str | None = None
    differences: list[RowDifference] = field(default_factory=list)
    more_differences: bool = False
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "error" if self.error else "equal" if self.equal else "differs"


@dataclass
class VerifyResult:
    tables: list[TableVerdict]
    seconds: float

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables)

    @property
    def errors(self) -> bool:
        return any(t.error for t in self.tables)

    def to_json(self) -> str:
        out = {"equal": self.equal, "seconds": round(self.seconds, 3),
               "tables": [{**asdict(t), "status": t.status} for t in self.tables]}
        return json.dumps(out, indent=2, ensure_ascii=False)


# -- one table ------------------------------------------------------------------------
@dataclass
class _Side:
    rows: int
    total: int  # sum of the row hashes modulo 2^64
    buckets: dict[int, tuple[int, int]] | None = None  # bucket -> (rows, sum)


class TableVerifier:
    def __init__(self, t: TablePlan, schema: str, chunk_rows: int, batch_rows: int) -> None:
        self.t = t
        self.schema = schema
        self.kinds = [kind_of(c.pg_type) for c in t.columns]
        self.pk_idx = [i for i, c in enumerate(t.columns) if c.pg_name in t.pk] if t.pk else []
        self.n_buckets = max(1, (max(t.rows, 1) + chunk_rows - 1) // chunk_rows)
        self.batch_rows = batch_rows

    # SQLite ---------------------------------------------------------------------------
    def _source_batches(self, conn: Any, where: str | None = None
                        ) -> Iterator[tuple[pa.RecordBatch, list[pa.Array]]]:
        exprs = [(source_expr(c.name, k), "text")
                 for c, k in zip(self.t.columns, self.kinds, strict=True)]
        query = reader.typed_query(self.t.name, exprs, where=where)
        for batch in reader.batches(conn, query, self.batch_rows):
            yield batch, [fields_of(source_value_text(batch.column(i), c, k), k)
                          for i, (c, k) in enumerate(zip(self.t.columns, self.kinds,
                                                         strict=True))]

    def _hashes(self, fields: list[pa.Array], buckets: bool
                ) -> tuple[tuple[int, ...], list[int]]:
        """Row hashes (64-bit) and, if asked, bucket numbers of a batch's rows (the first
        32 bits of the key's SHA-256, as PostgreSQL's side takes them)."""
        hashes = row_hashes(pc.binary_join_element_wise(*fields, "|"))
        if not buckets:
            return hashes, []
        keys = row_hashes(pc.binary_join_element_wise(*[fields[i] for i in self.pk_idx], "|")
                          ) if self.pk_idx else hashes
        n = self.n_buckets
        return hashes, [(k >> 32) % n for k in keys]

    def source_side(self, conn: Any, with_buckets: bool, where: str | None = None) -> _Side:
        rows, total = 0, 0
        buckets: dict[int, tuple[int, int]] = {}
        for batch, fields in self._source_batches(conn, where):
            rows += batch.num_rows
            hashes, numbers = self._hashes(fields, with_buckets)
            total += sum(hashes)
            for h, b in zip(hashes, numbers, strict=False):
                n, s = buckets.get(b, (0, 0))
                buckets[b] = (n + 1, (s + h) % 2**64)
        return _Side(rows, total % 2**64, buckets if with_buckets else None)

    def source_rows_in(self, conn: Any, buckets: set[int] | None,
                       where: str | None = None) -> dict[str, tuple[str, list[str]]]:
        """key digest -> (displayed key, column fields) of the source rows in ``buckets``
        (None: every row matching ``where``)."""
        out: dict[str, tuple[str, list[str]]] = {}
        for batch, fields in self._source_batches(conn, where):
            _h, numbers = self._hashes(fields, True)
            picked = [i for i, x in enumerate(numbers) if buckets is None or x in buckets]
            if not picked:
                continue
            cols = [f.take(pa.array(picked)).to_pylist() for f in fields]
            for j, i in enumerate(picked):
                row = [c[j] for c in cols]
                key = "|".join(row[k] for k in self.pk_idx) if self.pk_idx else "|".join(row)
                shown = self._display(batch, i) if self.pk_idx else f"(no primary key) {row}"
                digest = hashlib.sha256(key.encode()).hexdigest()
                if not self.pk_idx:
                    digest = _apart(out, digest)
                out[digest] = (shown, row)
        return out

    def _display(self, batch: pa.RecordBatch, i: int) -> str:
        return ", ".join(f"{self.t.columns[k].name}={_shown(batch.column(k)[i].as_py())}"
                         for k in self.pk_idx)

    # PostgreSQL -----------------------------------------------------------------------
    def _pg_fields(self) -> list[sql.Composable]:
        return [pg_field(sql.Identifier(c.pg_name), k)
                for c, k in zip(self.t.columns, self.kinds, strict=True)]

    def _pg_exprs(self) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
        fields = self._pg_fields()
        row = pg_joined(fields)
        key = pg_joined([fields[i] for i in self.pk_idx]) if self.pk_idx else row
        h = sql.SQL("('x' || encode(substr(sha256(convert_to({}, 'UTF8')), 1, 8), 'hex'))"
                    "::bit(64)::bigint").format(row)
        b = sql.SQL("mod(('x' || encode(substr(sha256(convert_to({}, 'UTF8')), 1, 4), "
                    "'hex'))::bit(32)::bigint, {})").format(
            key, sql.Literal(self.n_buckets))
        return h, b, key

    def _rel(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.t.pg_name)

    def target_side(self, conn: target.Conn, with_buckets: bool) -> _Side:
        h, b, _key = self._pg_exprs()
        if not with_buckets:
            q = sql.SQL("SELECT count(*), coalesce(sum({h}::numeric), 0) FROM {t}").format(
                h=h, t=self._rel())
            n, s = conn.execute(q).fetchone()  # type: ignore[misc]
            return _Side(int(n), int(s) % 2**64)
        q = sql.SQL("SELECT {b} AS bucket, count(*), sum({h}::numeric) FROM {t} GROUP BY 1"
                    ).format(b=b, h=h, t=self._rel())
        buckets = {int(r[0]): (int(r[1]), int(r[2]) % 2**64) for r in conn.execute(q)}
        rows = sum(n for n, _s in buckets.values())
        total = sum(s for _n, s in buckets.values()) % 2**64
        return _Side(rows, total, buckets)

    def target_rows_in(self, conn: target.Conn, buckets: set[int] | None,
                       where: sql.Composable | None = None, params: Any = None
                       ) -> dict[str, tuple[str, list[str]]]:
        """As ``source_rows_in``, from PostgreSQL (``where`` with its ``params``)."""
        fields = self._pg_fields()
        _h, b, key = self._pg_exprs()
        display = sql.SQL(" || ', ' || ").join(
            sql.SQL("{} || '=' || {}").format(
                sql.Literal(self.t.columns[i].name),
                sql.SQL("quote_nullable({})" if self.kinds[i] in (TEXT, JSONB, OTHER) else
                        "coalesce({}::text, 'NULL')").format(
                    sql.Identifier(self.t.columns[i].pg_name)))
            for i in self.pk_idx) if self.pk_idx else sql.SQL("''")
        q = sql.SQL("SELECT encode(sha256(convert_to({key}, 'UTF8')), 'hex'), {display}, "
                    "ARRAY[{fields}]::text[] FROM {t} "
                    "WHERE {where}").format(
            key=key, display=display, fields=sql.SQL(", ").join(fields) if fields
            else sql.SQL("''"), t=self._rel(),
            where=sql.SQL("{} = ANY(%s)").format(b) if buckets is not None else where)
        out: dict[str, tuple[str, list[str]]] = {}
        for digest, shown, row in conn.execute(
                q, (sorted(buckets),) if buckets is not None else params):
            row = list(row) if fields else []
            if not self.pk_idx:
                digest = _apart(out, digest)
                shown = f"(no primary key) {row}"
            out[digest] = (str(shown), row)
        return out

    def pinpoint(self, src_conn: Any, pg_conn: target.Conn, src: _Side,
                 verdict: TableVerdict, limit: int) -> None:
        tgt = self.target_side(pg_conn, with_buckets=True)
        src_b = self.source_side(src_conn, with_buckets=True).buckets or {}
        tgt_b = tgt.buckets or {}
        differing = {b for b in set(src_b) | set(tgt_b) if src_b.get(b) != tgt_b.get(b)}
        found: list[RowDifference] = []
        # a few buckets at a time, so memory stays bounded by the chunk size
        for chunk in _chunks(sorted(differing), 8):
            wanted = set(chunk)
            found += self.differences(self.source_rows_in(src_conn, wanted),
                                      self.target_rows_in(pg_conn, wanted))
            if len(found) > limit:
                break
        verdict.differences = found[:limit]
        verdict.more_differences = len(found) > limit

    def differences(self, s_rows: dict[str, tuple[str, list[str]]],
                    t_rows: dict[str, tuple[str, list[str]]]) -> list[RowDifference]:
        """The rows that differ, are missing or are extra, between two sets of rows."""
        found = []
        for k in sorted(set(s_rows) | set(t_rows)):
            s, t = s_rows.get(k), t_rows.get(k)
            if s and t:
                if s[1] != t[1]:
                    cols = [c.name for c, a, b2 in zip(self.t.columns, s[1], t[1],
                                                        strict=True) if a != b2]
                    found.append(RowDifference("differs", s[0], cols))
            elif s:
                found.append(RowDifference("missing", s[0]))
            elif t:
                found.append(RowDifference("extra", t[0]))
        return found


def _shown(tagged: str | None) -> str:
    """A key value as the user knows it, from verify's "<class>:<payload>" text."""
    if tagged is None:
        return "None"
    cls, _, payload = tagged.partition(":")
    return repr(payload) if cls == "text" else f"x'{payload}'" if cls == "blob" else payload


def _apart(rows: dict[str, Any], digest: str) -> str:
    """A key for one more copy of a keyless row: duplicates are counted apart."""
    n = 0
    while f"{digest}#{n}" in rows:
        n += 1
    return f"{digest}#{n}"


def _chunks(items: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# -- all tables -----------------------------------------------------------------------
def pg_column_types(conn: target.Conn, schema: str, table: str
                    ) -> dict[str, str] | None:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, table)).fetchall()
    return {str(r[0]): str(r[1]) for r in rows} if rows else None


SPLIT_ROWS = 100_000  # a larger table's source side is computed in rowid ranges


def _source_tasks(source: Path, checkers: list[TableVerifier], jobs: int
                  ) -> list[tuple[int, str | None]]:
    """(checker index, rowid range or None) for every piece of source-side work."""
    if jobs <= 1:
        return [(i, None) for i in range(len(checkers))]
    tasks: list[tuple[int, str | None]] = []
    # (the same SQLite library as the copy's snapshot: see source.read_header)
    conn = reader.connect(source)
    try:
        for i, tv in enumerate(checkers):
            t = tv.t
            if t.rowid is not None and t.rows > SPLIT_ROWS:
                cur = conn.cursor()
                cur.execute(f"SELECT min({t.rowid}), max({t.rowid}) FROM {quote_ident(t.name)}")
                lo, hi = cur.fetchall()[0]
                cur.close()
                if lo is not None:
                    # (open at both ends: rows of another snapshot than this one's, read
                    # again in one snapshot if need be, fall in exactly one range too)
                    n = jobs * 2
                    step = (hi - lo) // n + 1
                    cuts = [lo + k * step for k in range(1, n)]
                    bounds = [f"{t.rowid} < {cuts[0]}"] + [
                        f"{t.rowid} >= {a} AND {t.rowid} < {b}"
                        for a, b in itertools.pairwise(cuts)] + [
                        f"{t.rowid} >= {cuts[-1]}"]
                    tasks += [(i, where) for where in bounds]
                    continue
            tasks.append((i, None))
    finally:
        conn.close()
    return sorted(tasks, key=lambda task: -checkers[task[0]].t.rows)


def _source_piece(source: Path, tv: TableVerifier, where: str | None
                  ) -> tuple[_Side, dict[str, Any] | None]:
    """One piece of the source side, in a worker process: the side and the identity of the
    snapshot it read (None: a commit came as it began)."""
    with reader.connect(source) as conn:
        identity = reader.pinned_snapshot(conn, source)
        return tv.source_side(conn, with_buckets=False, where=where), identity


def verify(source: Path, plan: Plan, dsn: str, schema: str = "public",
           tables: list[str] | None = None, limit: int = VERIFY_LIMIT,
           chunk_rows: int = VERIFY_CHUNK_ROWS, batch_rows: int = BATCH_ROWS,
           jobs: int = JOBS, log: Callable[[str], None] = lambda _m: None,
           snapshot: Any = None, progress: Progress | None = None) -> VerifyResult:
    """Compare every selected table of ``plan`` in ``source`` with ``schema`` in ``dsn``.

    The source side is computed by ``jobs`` worker processes (rowid ranges of large
    tables), started before any connection is opened; PostgreSQL computes its side
    meanwhile. Each worker reads a snapshot of its own, and a piece whose snapshot is not
    this process's (a commit came between: their identities differ) is computed again
    here, so that every table is read from one snapshot. ``snapshot``: an open SQLite read
    transaction (``run`` passes the copy's), which is then read here, alone. ``progress``
    shows the tables PostgreSQL has summed, then the rows SQLite has.
    """
    start = time.perf_counter()
    meter = progress or progress_off()
    chosen = plan.select(tables or [], [], ("--tables", "--exclude")).tables
    checkers = [TableVerifier(t, schema, chunk_rows, batch_rows) for t in chosen]
    verdicts = [TableVerdict(t.name, t.pg_name) for t in chosen]
    if snapshot is not None:
        jobs = 1
    tasks = _source_tasks(source, checkers, jobs)
    pool: ProcessPoolExecutor | None = None
    futures: list[Future[tuple[_Side, dict[str, Any] | None]]] = []
    if jobs > 1 and sum(t.rows for t in chosen) > SPLIT_ROWS:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork"))
        futures = [pool.submit(_source_piece, source, checkers[i], where)
                   for i, where in tasks]
    try:
        with target.connect(dsn, autocommit=True) as pg_conn:
            tgt_sides: dict[int, _Side | str] = {}
            meter.begin("verify", len(checkers), "tables")
            for i, (tv, v) in enumerate(zip(checkers, verdicts, strict=True)):
                meter.update("verify", i, current=f"PostgreSQL side: {tv.t.pg_name}")
                t0 = time.perf_counter()
                problem = _check_columns(pg_conn, schema, tv.t, dsn)
                if problem:
                    tgt_sides[i] = problem
                    continue
                try:
                    tgt_sides[i] = tv.target_side(pg_conn, with_buckets=False)
                except psycopg.Error as e:
                    tgt_sides[i] = "PostgreSQL could not compute the checksum: " + \
                        target.redact(str(e).strip())
                v.seconds += time.perf_counter() - t0
            src_sides: dict[int, _Side] = {}
            with contextlib.nullcontext(snapshot) if snapshot is not None else \
                    reader.connect(source) as src_conn:
                pinned = reader.pinned_snapshot(src_conn, source) if snapshot is None \
                    else None
                pending: list[Future[tuple[_Side, dict[str, Any] | None]] | None] = \
                    [*futures] or [None] * len(tasks)
                meter.begin("verify", sum(t.rows for t in chosen), "rows")
                compared = 0
                for (i, where), f in zip(tasks, pending, strict=True):
                    meter.update("verify", compared, current=f"SQLite side: {chosen[i].name}")
                    t0 = time.perf_counter()
                    piece, seen = f.result() if f is not None else (None, None)
                    if piece is None or pinned is None or seen != pinned:
                        piece = checkers[i].source_side(src_conn, with_buckets=False,
                                                        where=where)
                    verdicts[i].seconds += time.perf_counter() - t0
                    compared += piece.rows
                    prev = src_sides.get(i)
                    src_sides[i] = piece if prev is None else _Side(
                        prev.rows + piece.rows, (prev.total + piece.total) % 2**64)
                for i, (tv, v) in enumerate(zip(checkers, verdicts, strict=True)):
                    tgt = tgt_sides[i]
                    if isinstance(tgt, str):
                        v.error = tgt
                        log(f"{v.table}: {v.status}")
                        continue
                    src = src_sides[i]
                    v.source_rows, v.target_rows = src.rows, tgt.rows
                    v.equal = src.rows == tgt.rows and src.total == tgt.total
                    if not v.equal:
                        t0 = time.perf_counter()
                        try:
                            tv.pinpoint(src_conn, pg_conn, src, v, limit)
                        except psycopg.Error as e:
                            v.error = ("PostgreSQL error while narrowing down: "
                                       + target.redact(str(e)))
                        v.seconds += time.perf_counter() - t0
                    log(f"{v.table}: {v.status}")
    finally:
        meter.end("verify")
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return VerifyResult(verdicts, time.perf_counter() - start)


def _check_columns(conn: target.Conn, schema: str, t: TablePlan,
                   dsn: str) -> str | None:
    """Why the table cannot be compared (missing, or columns of other types), or None."""
    try:
        types = pg_column_types(conn, schema, t.pg_name)
    except psycopg.Error as e:
        raise target.describe(e, dsn) from None
    if types is None:
        return f"table {schema}.{t.pg_name} does not exist in PostgreSQL"
    missing = [c.pg_name for c in t.columns if c.pg_name not in types]
    if missing:
        return f"columns missing in PostgreSQL: {', '.join(missing)}"
    other = [f"{c.pg_name} is {types[c.pg_name]}, the plan says {c.pg_type}"
             for c in t.columns if kind_of(types[c.pg_name]) != kind_of(c.pg_type)]
    if other:
        return "column types differ: " + "; ".join(other)
    return None
