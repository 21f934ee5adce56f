"""Stage 4, copier: rows from SQLite to PostgreSQL as Arrow batches through binary COPY.

Copy streams (``Copier``) read every table from one SQLite snapshot (consistent even
while the application writes), in batches of bounded size: a reader thread per stream
converts each batch in bulk (``transfer.convert``) and hands it through a bounded queue to
its writer, which streams it into PostgreSQL with the ADBC driver's binary COPY. Memory is
bounded by batch size times queue depth, whatever the table size. How a table is read,
guarded and converted, and what becomes of a row that cannot be carried, is
``transfer.copyread``'s.

Tables with a rowid are read in rowid order, or, with a tenant key, in (tenant key,
rowid) order, and committed in chunks of about ``chunk_rows`` rows; with a run id, each
chunk's COPY and the table's progress (rows and the position of the last row) commit in
one transaction, so a resumed run continues after the last committed row, never copying a
row twice.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
import pyarrow.compute as pc

from transfer import convert, reader, state, target
from transfer.catalog import CAPTURE_LOG
from transfer.copyread import (
    RejectLog,
    convert_batch,
    drop_row,
    misfits,
    table_query,
    value_error,
    wire_schema,
)
from transfer.errors import DataError, SourceError, TargetError
from transfer.model import TablePlan
from transfer.settings import BATCH_ROWS, CHUNK_ROWS
from transfer.state import TableProgress

QUEUE_DEPTH = 2
_DONE = object()  # the table is complete
_FAILED = object()  # the reader failed; its error is in Copier.error

@dataclass
class TableResult:
    table: str
    rows: int = 0  # in the target (with those a resumed run found committed)
    bytes: int = 0
    seconds: float = 0.0
    rejected: int = 0
    read: int = 0  # read from the source by this run


@dataclass
class _Writer:
    """What one writer session is doing, for its error messages and the reject path."""
    current: TablePlan | None = None  # the table being written
    source_rows: pa.RecordBatch | None = None  # source rows of the last batch


class Copier:
    """Reads every table in one SQLite snapshot and COPYs it into ``schema``.

    ``jobs`` streams (a reader thread with its own SQLite connection, a writer thread with
    its own PostgreSQL session) copy tables side by side, largest first. The first stream's
    read transaction is the snapshot; another stream takes part only if the source had no
    commit between that transaction's start and its own (the same identity, read while
    both are open): then both read the same rows. Otherwise the first stream reads all.
    """

    def __init__(self, source_path: Path, dsn: str, schema: str, tables: list[TablePlan],
                 batch_rows: int = BATCH_ROWS,
                 progress: Callable[[str, int, int], None] | None = None,
                 run_id: str | None = None, resume: dict[str, TableProgress] | None = None,
                 chunk_rows: int = CHUNK_ROWS,
                 table_done: Callable[[TableResult], None] | None = None,
                 profiled_snapshot: dict[str, Any] | None = None,
                 rejects: RejectLog | None = None, keep_snapshot: bool = False,
                 jobs: int = 1) -> None:
        self.source_path = source_path
        self.dsn = dsn
        self.schema = schema
        self.resume = resume or {}
        self.tables = [t for t in tables if not self.resume.get(t.name, TableProgress()).done]
        self.skipped = [t for t in tables if t not in self.tables]
        self.batch_rows = batch_rows
        self.progress = progress or (lambda _t, _n, _b: None)  # (table, rows, bytes sent)
        self.run_id = run_id
        self.rejects = rejects
        self.keep_snapshot = keep_snapshot
        self.snapshot: Any = None  # the read transaction, kept open (WAL) for the verify
        self.identity: dict[str, Any] | None = None  # the source when the snapshot opened
        # rejecting, each batch commits alone, so a row PostgreSQL refuses can be set aside
        self.chunk_rows = 1 if rejects else chunk_rows if run_id else 2**62
        self.table_done = table_done or (lambda _r: None)  # its rows are committed
        self.profiled_snapshot = profiled_snapshot
        self.profiled = False  # set once the read snapshot is open
        self.capture_position: int | None = None  # the change log's last seq the copy read
        self.queues: dict[str, queue.Queue[object]] = {
            t.name: queue.Queue(maxsize=QUEUE_DEPTH) for t in tables}
        self.error: BaseException | None = None  # the first reader's failure
        self.stop = threading.Event()
        self.jobs = max(1, min(jobs, len(self.tables)))
        # one stream: plan order (parents first, as --data-only into constrained tables
        # needs); several: largest first, so that the longest table starts at once
        self.pending = list(self.tables) if self.jobs == 1 else sorted(
            self.tables, key=lambda t: -t.rows)
        self.lock = threading.Lock()
        self.assigned: list[queue.Queue[object]] = [queue.Queue() for _ in range(self.jobs)]
        self.opened = threading.Event()  # the first stream's snapshot is open
        self.results: list[TableResult] = []
        self.failures: list[tuple[BaseException, TablePlan | None]] = []

    # -- reading ------------------------------------------------------------------------
    def _read_stream(self, k: int) -> None:
        conn = None
        try:
            conn = reader.connect(self.source_path)
            cur = conn.cursor()
            cur.execute("PRAGMA threads = 2")  # helper threads for tenant order's sorts
            cur.fetchall()
            if k:
                self.opened.wait()
                if self.identity is None:
                    return  # the first stream failed
            identity = self._pin(k, conn)
            cur.execute("PRAGMA journal_mode")
            wal = str(cur.fetchall()[0][0]).lower() == "wal"
            cur.close()
            if k == 0:
                # (a commit while it began: an identity no reading equals, so that no stream
                # joins and the final verify reads this very snapshot)
                self.identity = identity or {"moving": True}
                cur = conn.cursor()  # the last captured change this snapshot holds (live)
                cur.execute(f"SELECT count(*) FROM sqlite_master WHERE name = '{CAPTURE_LOG}'")
                if cur.fetchall()[0][0]:
                    cur.execute(f"SELECT coalesce(max(seq), 0) FROM {CAPTURE_LOG}")
                    self.capture_position = int(cur.fetchall()[0][0])
                cur.close()
                # Unchanged since the plan's profile began (no commit since), the rows are
                # those profiled: searches done there (duplicate JSON keys) are not
                # repeated. Otherwise everything is checked.
                self.profiled = self.profiled_snapshot is not None and \
                    identity == self.profiled_snapshot
                self.opened.set()
            elif identity is None or identity != self.identity:
                return  # a commit came between: not the same snapshot; the others read all
            while (t := self._next_table(k)) is not None:
                self.assigned[k].put(t)
                self._read_table(conn, t)
            if k == 0 and self.keep_snapshot and wal and not self.stop.is_set():
                # Held for the final verify. In WAL mode the application keeps writing;
                # with a rollback journal the held read lock would block it: released.
                self.snapshot, conn = conn, None
        except BaseException as e:  # handed to the writers, which re-raise it
            with self.lock:
                self.error = self.error or e
            for q in self.queues.values():
                self._put(q, _FAILED)
        finally:
            self.opened.set()
            self.assigned[k].put(_DONE)
            if conn is not None:
                conn.close()

    def _pin(self, k: int, conn: Any) -> dict[str, Any] | None:
        """Stream ``k``'s snapshot: open it, and the source identity it reads (None: a
        commit came as it opened). (A seam: tests commit around it.)"""
        return reader.pinned_snapshot(conn, self.source_path)

    def _next_table(self, k: int) -> TablePlan | None:
        """The next table for stream ``k`` (None: none left, or stopping)."""
        with self.lock:
            if self.stop.is_set() or not self.pending:
                return None
            return self.pending.pop(0)

    def _read_table(self, conn: Any, t: TablePlan) -> None:
        q = self.queues[t.name]
        schema = wire_schema(t)
        converters = [convert.converter(c.convert, self.profiled and c.profiled)
                      for c in t.columns]
        done = self.resume.get(t.name, TableProgress())
        offset = done.rows
        # Rows the plan's profile did not read: guarded (light first; a table with a value
        # the driver cannot read is read again from the last row sent, fully guarded).
        guard = "" if self.profiled else "full" if t.rowid is None else "light"
        position = TableProgress(done.rows, done.last_rowid, last_key=done.last_key)
        try:
            while True:
                try:
                    query = table_query(t, position, guard, self.rejects is not None)
                    for batch in reader.batches(conn, query,
                                                self.batch_rows):
                        if self.stop.is_set():
                            return
                        n = batch.num_rows
                        if guard:
                            batch = self._misfits(t, batch, offset)
                        if batch.num_rows:
                            position = self._send(t, q, batch, schema, converters, offset)
                        offset += n
                    break
                except reader.MixedTypes:
                    if guard != "light":
                        raise DataError(f"table {t.name!r} holds a value of another storage "
                                        "class than the plan read (the source changed since "
                                        "the plan?); make the plan again.") from None
                    guard = "full"
        except reader.ReadFailed as e:
            if t.tenant_order and ("full" in e.cause or "I/O" in e.cause):
                raise SourceError(
                    f"table {t.name!r} could not be read in tenant order ({e.cause}): its sort "
                    "writes temporary files about the table's size; point SQLITE_TMPDIR at a "
                    "directory with room for them, or copy in rowid order with --order "
                    "source.") from None
            raise SourceError(f"table {t.name!r}: {e}") from None
        self._put(q, _DONE)

    def _misfits(self, t: TablePlan, batch: pa.RecordBatch,
                 offset: int) -> pa.RecordBatch:
        """Stop at a row holding a value of another storage class than the plan read (the
        source changed since the plan), or, rejecting, set such rows aside; the batch
        without them (and without the guard column)."""
        found = misfits(batch, t)
        if not found:
            return batch.remove_column(len(t.columns))
        for i, k, why, value in found:
            col = t.columns[k]
            reason = f"{why} (the source changed since the plan)"
            if self.rejects is None:
                raise value_error(t, col, batch, i, offset, value, reason, "make the plan again")
            self.rejects.write(t, batch, i, offset, col.name, reason, len(t.columns) + 1)
        return batch.filter(pc.is_null(batch.column(len(t.columns)))).remove_column(
            len(t.columns))

    def _send(self, t: TablePlan, q: queue.Queue[object], batch: pa.RecordBatch,
              schema: pa.Schema, converters: list[Callable[[pa.Array], pa.Array]],
              offset: int) -> TableProgress:
        """Convert one batch and hand it to the writer; the position of its last row."""
        position = TableProgress()  # of the batch's last row (read, not converted)
        if t.rowid is not None:
            position.last_rowid = batch.column(batch.num_columns - 1)[-1].as_py()
            if t.tenant_order:
                position.last_key = batch.column(batch.num_columns - 2)[-1].as_py()
        out, kept = convert_batch(t, batch, schema, converters, offset, self.rejects,
                                   len(t.columns) if self.rejects is not None else None)
        # the source rows ride along only when a refused row may have to be set aside
        self._put(q, (out, position, kept if self.rejects is not None else None))
        return position

    def _put(self, q: queue.Queue[object], item: object) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue[object]) -> object:
        while True:
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stopped() from None

    # -- writing ------------------------------------------------------------------------
    def _batches(self, t: TablePlan, result: TableResult, chunk: TableProgress,
                 w: _Writer) -> Iterator[pa.RecordBatch]:
        """The batches of one chunk; marks ``chunk.done`` when the table is complete."""
        q = self.queues[t.name]
        rows = 0
        while rows < self.chunk_rows:
            item = self._get(q)
            if item is _DONE:
                chunk.done = True
                return
            if item is _FAILED:
                raise _ReaderFailed()
            assert isinstance(item, tuple)
            batch, position, w.source_rows = item
            rows += batch.num_rows
            result.rows += batch.num_rows
            result.read += batch.num_rows
            result.bytes += batch.nbytes
            chunk.rows += batch.num_rows
            chunk.last_rowid, chunk.last_key = position.last_rowid, position.last_key
            self.progress(t.name, result.rows, result.bytes)
            yield batch

    def _write_stream(self, k: int) -> None:
        w = _Writer()
        try:
            with adbc_pg.connect(target.adbc_uri(self.dsn)) as conn:
                while (t := self._get(self.assigned[k])) is not _DONE:
                    assert isinstance(t, TablePlan)
                    w.current = t
                    result = self._write_table(conn, t, w)
                    with self.lock:
                        self.results.append(result)
        except BaseException as e:
            with self.lock:
                self.failures.append((e, w.current))
            self.stop.set()

    def run(self) -> list[TableResult]:
        readers = [threading.Thread(target=self._read_stream, args=(k,), daemon=True,
                                    name=f"sqlite2pg-reader-{k}") for k in range(self.jobs)]
        writers = [threading.Thread(target=self._write_stream, args=(k,), daemon=True,
                                    name=f"sqlite2pg-writer-{k}") for k in range(self.jobs)]
        for th in readers + writers:
            th.start()
        try:
            for th in writers:
                while th.is_alive():
                    th.join(timeout=0.1)
        except KeyboardInterrupt:
            target.cancel_requested.set()
            self.stop.set()  # each writer's COPY fails at its next batch and rolls back
            for th in writers:
                th.join(timeout=30)
            raise
        finally:
            self.stop.set()
            for th in readers:
                th.join(timeout=30)
        if (self.error is not None or self.failures) and self.snapshot is not None:
            self.snapshot.close()  # (kept for a verify that will not come)
            self.snapshot = None
        if self.error is not None:
            raise self.error
        for e, t in self.failures:
            if isinstance(e, (_ReaderFailed, _Stopped)):
                continue
            if isinstance(e, adbc_pg.Error):
                if target.cancel_requested.is_set():
                    raise KeyboardInterrupt from None  # the COPY cancelled, as asked
                raise self._copy_error(e, t) from None
            raise e
        if self.failures:
            raise self.failures[0][0]
        return self.results

    def _write_table(self, conn: adbc_pg.Connection, t: TablePlan, w: _Writer) -> TableResult:
        result = TableResult(t.name)
        start = time.perf_counter()
        before = self.resume.get(t.name, TableProgress())
        chunk = TableProgress(before.rows, before.last_rowid, last_key=before.last_key)
        result.rows = before.rows
        while not chunk.done:
            if self.rejects is not None:
                self._write_rejecting(conn, t, result, chunk, w)
                continue
            batches = pa.RecordBatchReader.from_batches(wire_schema(t),
                                                        self._batches(t, result, chunk, w))
            with conn.cursor() as cur:
                cur.adbc_ingest(t.pg_name, batches, mode="append", db_schema_name=self.schema)
                if self.run_id is not None:
                    cur.execute(_progress_sql(self.run_id, t.name, chunk))
            conn.commit()
        result.seconds = time.perf_counter() - start
        if self.rejects is not None:
            result.rejected = self.rejects.counts.get(t.name, 0)
        self.table_done(result)
        return result

    def _write_rejecting(self, conn: adbc_pg.Connection, t: TablePlan, result: TableResult,
                         chunk: TableProgress, w: _Writer) -> None:
        """One batch in one transaction; a row PostgreSQL refuses goes to the reject file
        and the batch is sent again without it."""
        assert self.rejects is not None
        batches = list(self._batches(t, result, chunk, w))  # at most one: chunk_rows = 1
        batch = batches[0] if batches else None
        source = w.source_rows
        while True:
            try:
                with conn.cursor() as cur:
                    if batch is not None and batch.num_rows:
                        cur.adbc_ingest(t.pg_name, pa.RecordBatchReader.from_batches(
                            wire_schema(t), [batch]), mode="append",
                            db_schema_name=self.schema)
                    if self.run_id is not None:
                        cur.execute(_progress_sql(self.run_id, t.name, chunk))
                conn.commit()
                return
            except adbc_pg.Error as e:
                conn.rollback()
                line = re.search(r"COPY [^,]+, line (\d+)", str(e))
                if batch is None or source is None or line is None or \
                        "due to user request" in str(e):
                    raise
                bad = int(line.group(1)) - 1
                detail = re.search(r"ERROR:\s*(.*)", target.redact(str(e)))
                col = re.search(r"column (\S+?)[:\s]", str(e))
                self.rejects.write(t, source, bad, chunk.rows - batch.num_rows, col.group(1)
                                   if col else None, "PostgreSQL rejected it: " +
                                   (detail.group(1).strip() if detail else str(e)[:200]),
                                   len(t.columns))
                batch, source = drop_row(batch, bad), drop_row(source, bad)
                result.rows -= 1
                chunk.rows -= 1

    def _copy_error(self, e: Exception, t: TablePlan | None) -> Exception:
        code = target.sqlstate(e) or ""
        if not code.startswith("22") and code not in ("23502", "23514", ""):
            # not a value PostgreSQL refused: a timeout, a lost connection, no room...
            return target.describe(e, self.dsn, f"copying {t.name if t else 'rows'}")
        msg = target.redact(str(e))
        m = re.search(r"COPY [^,]+, line (\d+)(?:, column ([^:\n]+))?", msg)
        detail = msg.splitlines()[0] if msg else type(e).__name__
        m2 = re.search(r"ERROR:\s*(.*)", msg)
        if m2:
            detail = m2.group(1).strip()
        if t is not None and m:
            col = m.group(2) or "?"
            return DataError(f"table {t.name!r}, column {col!r}, row {m.group(1)} of the copy: "
                             f"PostgreSQL rejected the value: {detail}; fix the value or override "
                             f"the type with --cast.")
        return TargetError(f"COPY into {t.name if t else '?'!r} failed: {detail}.")


def _progress_sql(run_id: str, table: str, p: TableProgress) -> str:
    """The table's progress upsert, rendered for the ADBC cursor (the COPY's transaction)."""
    return state.progress_upsert(run_id, "table " + table, p.rows, p.last_rowid, p.done,
                                 p.last_key).as_string(None)


class _ReaderFailed(Exception):
    pass


class _Stopped(Exception):
    """Another stream failed, or Ctrl-C: this one stops."""
