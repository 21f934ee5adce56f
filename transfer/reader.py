"""SQLite -> Arrow record batches, through the ADBC SQLite driver (C, no per-cell Python).

The driver infers each column's Arrow type from the first batch, promoting silently
within it (an integer and a real become a double). Later batches are checked against that
type, strictly for INT64, by conversion for the others: a DOUBLE column takes integers as
doubles, a STRING column takes numbers as their SQLite text, a BINARY column takes text as
its UTF-8 bytes. So the first batch here is made of typed sentinel rows only (``UNION
ALL``), and is dropped: every real row meets a fixed type. The profile guards the one
lossy conversion left (an integer beyond 2^53 into a double column) and chooses class-pure
expressions for the copy.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa

from transfer.errors import SourceError
from transfer.settings import BATCH_ROWS
from transfer.source import BUSY_TIMEOUT_MS, snapshot_identity

SENTINELS = {"integer": "0", "real": "0.0", "text": "''", "blob": "x''"}

# The C library's allocator gives freed batch memory back; Arrow's default (mimalloc) kept
# about 35 MB more per run at peak, for no measurable speed.
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())


def _limit_arenas(n: int = 2) -> None:
    """At most ``n`` glibc malloc arenas (else one per thread, each keeping its freed
    memory): 10 MB less peak in the benchmark at scale 5, for no measurable speed."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_limit_arenas()


def release_memory() -> None:
    """Hand memory freed by finished threads back to the system (glibc keeps it in per-thread
    arenas otherwise, where the next stage's threads do not reuse it)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MixedTypes(Exception):
    """A selected expression yielded more than one storage class."""


class ReadFailed(SourceError):
    """SQLite failed part-way through a read (I/O, corruption, no room for a sort)."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"reading the source failed part-way ({cause}); check the room left "
                         "for temporary files (SQLITE_TMPDIR) and the file (PRAGMA "
                         "integrity_check).")
        self.cause = cause


def connect(path: Path) -> adbc_sqlite.Connection:
    """A read-only connection that waits for a writer's lock (as the sqlite3 connections
    do) instead of failing at once: a live application's WAL checkpoints take it briefly."""
    uri = "file:" + urllib.parse.quote(os.fspath(path.resolve())) + "?mode=ro"
    try:
        conn = adbc_sqlite.connect(uri)
        cur = conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.fetchall()
        cur.close()
        conn.commit()  # the PRAGMA opened no snapshot that the caller would then share
        return conn
    except Exception as e:  # the driver raises its own error classes
        raise SourceError(f"{path} cannot be opened for reading ({e}); check the file.") from None


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """SQLite's write lock on ``path`` while the block runs (the application's writers
    wait; readers go on), taken through this driver's SQLite library, the one every
    snapshot here is read with. A lock taken through another SQLite library in this process
    (Python's sqlite3) would be dropped by the system when a connection here closes its
    descriptor of the file: POSIX locks belong to the process, not to the descriptor, and
    only the library that took a lock defers closing its descriptors while it is held."""
    uri = "file:" + urllib.parse.quote(os.fspath(path.resolve())) + "?mode=rw"
    try:
        conn = adbc_sqlite.connect(uri, autocommit=True)
    except Exception as e:  # the driver raises its own error classes
        raise SourceError(f"{path} cannot be opened for writing ({e}); check the file's "
                          "permissions.") from None
    try:
        cur = conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.fetchall()
            cur.execute("BEGIN IMMEDIATE")
            cur.fetchall()
        except Exception as e:
            raise SourceError(f"SQLite's write lock on {path} was not granted ({e}); an "
                              "application transaction held it too long: try again.") from None
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK")
                cur.fetchall()
            cur.close()
    finally:
        conn.close()


def open_snapshot(conn: adbc_sqlite.Connection) -> None:
    """Begin ``conn``'s read transaction now: every later statement on it reads this
    snapshot until it commits. (The driver begins a deferred transaction, which SQLite
    starts only when a statement reads the file: ``SELECT 1`` would not.)"""
    cur = conn.cursor()
    try:
        cur.execute("SELECT count(*) FROM sqlite_master")
        cur.fetchall()
    finally:
        cur.close()


def pinned_snapshot(conn: adbc_sqlite.Connection, path: Path) -> dict[str, Any] | None:
    """``open_snapshot``, and the source identity of the rows it reads: read before and
    after it begins, equal when no commit came meanwhile (None otherwise). Two snapshots
    with the same identity read the same rows."""
    before = snapshot_identity(path)
    open_snapshot(conn)
    after = snapshot_identity(path)
    return after if after == before else None


def typed_query(table: str, exprs: list[tuple[str, str]], where: str | None = None,
                order_by: str | None = None, sort: bool = False, ctes: str = "") -> str:
    """``exprs``: (SQLite expression, storage class it yields). Sentinel row first.

    ``sort``: order by sorting the rows read in table order (SQLite's external sorter, in
    bounded memory, spilling to temporary files) rather than by walking an index, whose
    row lookups cost more than the sort on a large table.
    """
    from transfer.sqltext import quote_ident

    sentinel = ", ".join(SENTINELS[cls] for _e, cls in exprs) or "0"
    cols = ", ".join(e for e, _cls in exprs) or "0"
    body = f"SELECT {cols} FROM {quote_ident(table)}" + (" NOT INDEXED" if sort else "")
    if where:
        body += f" WHERE {where}"
    if order_by:
        body += f" ORDER BY {order_by}"
        body = f"SELECT * FROM ({body})"
    return (f"WITH RECURSIVE sqlite2pg_sentinel(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
            f"sqlite2pg_sentinel WHERE i < {{sentinels}}){', ' + ctes if ctes else ''} "
            f"SELECT {sentinel} FROM sqlite2pg_sentinel UNION ALL {body}")


def batches(conn: adbc_sqlite.Connection, query: str,
            batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of a ``typed_query``, its sentinel rows removed."""
    cur = conn.cursor()
    try:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cur.execute(query.replace("{sentinels}", str(batch_rows)))
        reader = cur.fetch_record_batch()
        skip = batch_rows
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except Exception as e:
                if "Type mismatch" in str(e):
                    raise MixedTypes(str(e)) from None
                raise ReadFailed(str(e)) from None
            if skip:
                drop = min(skip, batch.num_rows)
                batch = batch.slice(drop)
                skip -= drop
            if batch.num_rows:
                yield batch
    finally:
        cur.close()
