"""Catch-up and cutover of a live migration: the changes the application made after the
copy's snapshot, applied to PostgreSQL, then the switch with a write pause under a second.

``catch_up`` reads the change log (``transfer.capture``) after the position the target
records, and for every row it names reads the row as the source holds it now (the copy's
guard: a value the plan cannot carry stops, naming it): a row still there is upserted by
its primary key, a row gone is deleted. Each batch of changes commits in one PostgreSQL
transaction together with the new position, so a killed catch-up resumes exactly there:
no change is applied twice or skipped (applying a row's present state is idempotent).

``cutover`` catches up, verifies every table at a position taken while the application
writes (source snapshot and target at the same sequence), then takes SQLite's write lock
(the application's writers wait, its readers go on), applies what is left, verifies the
rows changed since that position (so the window does not grow with the database), runs
``--then`` while still holding the lock, records the position, and lets writers go.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
from psycopg import sql

from transfer import capture, convert, copyread, faults, model, reader, state, target, verify
from transfer.errors import SourceError, TargetError
from transfer.model import Plan, TablePlan
from transfer.sqltext import quote_ident

BATCH_CHANGES = 10_000  # changes applied per transaction
KEYS_PER_READ = 500  # keys per read of the source (a row-value IN list)
WINDOW_CHANGES = 200  # changes left for the cutover's window (the rest is done before it)
TRIM_SECONDS = 5.0  # following, the log is trimmed of the changes applied this often


@dataclass
class Live:
    run: state.Run
    plan: Plan
    position: int  # the last change the target holds


def live_run(conn: target.Conn, source: Path, schema: str | None) -> Live:
    """The newest live run of ``source`` that was switched (into ``schema``, if given)."""
    path = str(source.resolve())
    for r in state.runs(conn, schema):
        if r.source == path and r.options.get("live") and r.state == "switched":
            done = state.progress(conn, r.run_id)
            return Live(r, model.stored_plan(r.plan, r.run_id), done["capture"].rows)
    raise TargetError(f"no live run of {source} is recorded in this database; start one with "
                      "'sqlite2pg run SOURCE --to ... --live'.")


def _key_columns(t: TablePlan) -> list[str]:
    """The SQLite names of the table's primary key, in the key's order."""
    by_pg = {c.pg_name: c.name for c in t.columns}
    return [by_pg[k] for k in t.pk]


def _key_text(columns: list[str]) -> str:
    """A row's key as the capture's triggers record it (its columns' SQLite literals)."""
    return " || ',' || ".join(f"quote({quote_ident(c)})" for c in columns)


def _in_list(columns: list[str], keys: list[list[str]]) -> str:
    """SQLite: the rows whose key is one of ``keys`` (checked literals)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    values = ", ".join("(" + ", ".join(k) + ")" for k in keys)
    return f"({cols}) IN (VALUES {values})"


@dataclass
class Applied:
    changes: int = 0
    position: int = 0
    # the keys of the rows changed, per table, for the cutover's verify: as SQLite literals,
    # and as PostgreSQL values
    literals: dict[str, list[list[str]]] = field(default_factory=dict)
    keys: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def _changes(src: Any, after: int, upto: int | None) -> Iterator[tuple[int, str, str | None,
                                                                      str | None]]:
    where = f"seq > {int(after)}" + (f" AND seq <= {int(upto)}" if upto is not None else "")
    query = reader.typed_query(capture.LOG, [("seq", "integer"), ("tbl", "text"),
                                             ("old_key", "text"), ("new_key", "text")],
                               where=where, order_by="seq")
    for batch in reader.batches(src, query, BATCH_CHANGES):
        yield from zip(*(batch.column(i).to_pylist() for i in range(4)), strict=True)


def apply(src: Any, pg: adbc_pg.Connection, live: Live, schema: str, upto: int | None,
          collect: bool = False) -> Applied:
    """Apply, in batches, the changes after the target's position (up to ``upto``) read
    in ``src``'s snapshot; each batch commits with the position."""
    capture.check_held(_bounds(src)[0], live.position)  # (the log must hold what follows)
    followed = {t.name: t for t in live.plan.tables if t.pk}
    done = Applied(position=live.position)
    pending: dict[str, dict[str, list[str]]] = {}
    last = live.position
    for seq, tbl, old, new in _changes(src, live.position, upto):
        t = followed.get(tbl)
        if t is not None:
            width = len(t.pk)
            for key in (old, new):
                if key is not None:
                    pending.setdefault(t.name, {})[key] = capture.key_literals(key, width)
        last = seq
        done.changes += 1
        if done.changes % BATCH_CHANGES == 0:
            _commit(src, pg, live, schema, pending, last, done, collect)
            pending = {}
    if last != live.position or pending:
        _commit(src, pg, live, schema, pending, last, done, collect)
    return done


def _commit(src: Any, pg: adbc_pg.Connection, live: Live, schema: str,
            pending: dict[str, dict[str, list[str]]], position: int, done: Applied,
            collect: bool) -> None:
    """One transaction: the rows named, as the source holds them now, and the position."""
    order = [t for t in live.plan.tables if t.name in pending]
    if collect:
        for name, keys in pending.items():
            done.literals.setdefault(name, []).extend(keys.values())
    with pg.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        for t in order:  # parents first
            gone = _upsert(src, cur, t, schema, pending[t.name], done, collect)
            if gone:
                _delete(src, cur, t, schema, gone, done, collect)
        cur.execute(state.progress_upsert(live.run.run_id, "capture", position, None,
                                          True).as_string(None))
        for t in order:
            for c in t.columns:
                if c.identity and c.sequence_name:
                    cur.execute(_advance(schema, t, c.pg_name, c.sequence_name))
    faults.pause("sync commit")
    pg.commit()
    live.position = done.position = position
    faults.pause("sync committed")


def _advance(schema: str, t: TablePlan, column: str, sequence: str) -> str:
    seq = sql.Literal(sql.Identifier(schema, sequence).as_string(None))
    col, tbl = sql.Identifier(column), sql.Identifier(schema, t.pg_name)
    return sql.SQL("SELECT setval({seq}, GREATEST((SELECT max({col}) FROM {tbl}), "
                   "(SELECT last_value FROM {s})), true)").format(
        seq=seq, col=col, tbl=tbl, s=sql.Identifier(schema, sequence)).as_string(None)


def _upsert(src: Any, cur: Any, t: TablePlan, schema: str, keys: dict[str, list[str]],
            done: Applied, collect: bool) -> list[list[str]]:
    """Upsert the rows of ``keys`` the source holds; the keys it no longer holds."""
    columns = _key_columns(t)
    present: set[str] = set()
    items = list(keys.items())
    cols = sql.SQL(", ").join(sql.Identifier(c.pg_name) for c in t.columns)
    pk = sql.SQL(", ").join(sql.Identifier(k) for k in t.pk)
    rest = [c.pg_name for c in t.columns if c.pg_name not in t.pk]
    update = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in rest)) if rest else sql.SQL("DO NOTHING")
    for k in range(0, len(items), KEYS_PER_READ):
        chunk = items[k:k + KEYS_PER_READ]
        where = _in_list(columns, [lits for _text, lits in chunk])
        batches = []
        for out, extra in copyread.rows_where(src, t, where, [(_key_text(columns), "text")]):
            present.update(extra.column(0).to_pylist())
            batches.append(out)
            if collect:
                index = [t.columns.index(next(c for c in t.columns if c.pg_name == p))
                         for p in t.pk]
                done.keys.setdefault(t.name, []).extend(
                    zip(*(out.column(i).to_pylist() for i in index), strict=True))
        if batches:
            tmp = "sqlite2pg_sync_rows"  # (the table's own types: binary COPY writes them)
            cur.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA")
                        .format(sql.Identifier(tmp), cols, sql.Identifier(schema, t.pg_name))
                        .as_string(None))
            cur.adbc_ingest(tmp, pa.RecordBatchReader.from_batches(copyread.wire_schema(t),
                                                                   batches),
                            mode="append", temporary=True)
            cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}")
                        .format(sql.Identifier(schema, t.pg_name), cols, cols,
                                sql.Identifier(tmp), pk, update).as_string(None))
            cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(tmp)).as_string(None))
    return [lits for text, lits in items if text not in present]


def _delete(src: Any, cur: Any, t: TablePlan, schema: str, gone: list[list[str]],
            done: Applied, collect: bool) -> None:
    """Delete the rows of keys the source no longer holds (their PostgreSQL values
    converted from the recorded literals, as the copy converts them)."""
    columns = _key_columns(t)
    plans = [t.column(c) for c in columns]
    names = ", ".join(quote_ident(c) for c in columns)
    schema_arrow = pa.schema([pa.field(p.pg_name, copyread.wire_type(p.convert)) for p in plans])
    for k in range(0, len(gone), KEYS_PER_READ):
        values = ", ".join("(" + ", ".join(lits) + ")" for lits in gone[k:k + KEYS_PER_READ])
        query = reader.typed_query("sqlite2pg_gone", [(p.select, copyread.source_class(p))
                                                      for p in plans],
                                   ctes=f"sqlite2pg_gone({names}) AS (VALUES {values})")
        batches = []
        for batch in reader.batches(src, query):
            batches.append(pa.RecordBatch.from_arrays(
                [convert.converter(p.convert)(batch.column(i)) for i, p in enumerate(plans)],
                schema=schema_arrow))
        if collect:
            for b in batches:
                done.keys.setdefault(t.name, []).extend(
                    zip(*(b.column(i).to_pylist() for i in range(len(plans))), strict=True))
        tmp = "sqlite2pg_sync_keys"
        cur.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(tmp), sql.SQL(", ").join(sql.Identifier(p.pg_name) for p in plans),
            sql.Identifier(schema, t.pg_name)).as_string(None))
        cur.adbc_ingest(tmp, pa.RecordBatchReader.from_batches(schema_arrow, batches),
                        mode="append", temporary=True)
        match = sql.SQL(" AND ").join(sql.SQL("t.{} = k.{}").format(
            sql.Identifier(p.pg_name), sql.Identifier(p.pg_name)) for p in plans)
        cur.execute(sql.SQL("DELETE FROM {} AS t USING {} AS k WHERE {}").format(
            sql.Identifier(schema, t.pg_name), sql.Identifier(tmp), match).as_string(None))
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(tmp)).as_string(None))


def _snapshot(source: Path) -> Any:
    src = reader.connect(source)
    reader.open_snapshot(src)
    return src


def _end(src: Any) -> int:
    return int(_bounds(src)[1] or 0)


def _bounds(src: Any) -> tuple[int | None, int | None]:
    """The first and the last change the log holds (None: it is empty)."""
    cur = src.cursor()
    try:
        cur.execute(f"SELECT min(seq), max(seq) FROM {capture.LOG}")
        first, last = cur.fetchall()[0]
        return first, last
    finally:
        cur.close()


def _pending(src: Any, after: int) -> tuple[int, int | None]:
    """(changes pending after ``after``, the oldest one's time, epoch seconds)."""
    cur = src.cursor()
    try:
        cur.execute(f"SELECT count(*), min(at) FROM {capture.LOG} WHERE seq > {int(after)}")
        n, at = cur.fetchall()[0]
        return int(n), at
    finally:
        cur.close()


def _check_schema(source: Path, live: Live) -> None:
    from transfer import source as source_mod

    if source_mod.schema_version(source) != live.run.options.get("schema_cookie"):
        raise SourceError(f"the schema of {source} changed while capturing (a migration ran?); "
                          "the catch-up stops: migrate the target the same way, then start a "
                          "new live run.")


def catch_up(source: Path, dsn: str, schema: str | None, log: Callable[[str], None],
             follow: bool = False, stop: Callable[[], bool] = lambda: False) -> Live:
    """Apply the changes after the target's position; with ``follow``, keep applying (and
    showing the lag) until ``stop`` says so."""
    with target.connect(dsn, autocommit=True) as conn:
        live = live_run(conn, source, schema)
    schema = live.run.target_schema
    with adbc_pg.connect(target.adbc_uri(dsn)) as pg:
        last_said = 0.0
        trimmed = 0.0  # when the log was last trimmed (following: every TRIM_SECONDS)
        while True:
            _check_schema(source, live)
            with contextlib.closing(_snapshot(source)) as src:
                applied = apply(src, pg, live, schema, None)
                pending, oldest = _pending(src, live.position) if follow else (0, None)
            if not follow or time.monotonic() - trimmed >= TRIM_SECONDS:
                _trim(source, live, log, quiet=follow)
                trimmed = time.monotonic()
            if applied.changes and not follow:
                log(f"        applied {applied.changes} changes; the target holds the source "
                    f"up to change {live.position}")
            if not follow:
                return live
            now = time.monotonic()
            if now - last_said >= 2.0:
                behind = max(0, int(time.time()) - oldest) if oldest else 0
                log(f"        position {live.position}; {pending} changes pending, "
                    f"{behind} s behind")
                last_said = now
            if stop():
                return live
            if not applied.changes:
                time.sleep(0.2)


def _trim(source: Path, live: Live, log: Callable[[str], None], quiet: bool = False) -> None:
    """Record this run's position in the source and trim the change log (a failure to
    write the source costs only the trim: said, and the catch-up goes on)."""
    try:
        held = capture.trim(source, live.run.run_id, live.position)
    except SourceError as e:
        log(f"        the change log was not trimmed this time ({e})")
        return
    if held is not None and held.reader != live.run.run_id and held.position < live.position \
            and not quiet:
        log(f"        the change log keeps {held.rows} changes from change {held.first} for "
            f"live run {held.reader}, whose target holds the source up to change "
            f"{held.position} (its sync lets them go; 'sqlite2pg capture forget {source} "
            f"{held.reader}' if it will apply no more)")


@dataclass
class Cutover:
    verified_at: int  # the position every table was verified equal at, while live
    final: int  # the position at the cutover
    changed_rows: int  # rows changed since, each verified after it was applied
    window_rows: int  # of which inside the window
    pause: float  # seconds the application's writers waited
    then: int | None  # --then's exit code


def cutover(source: Path, dsn: str, schema: str | None, then: str | None,
            log: Callable[[str], None]) -> Cutover:
    live = catch_up(source, dsn, schema, log)
    schema = live.run.target_schema
    # 1. a full verify at a position taken while the application writes
    with adbc_pg.connect(target.adbc_uri(dsn)) as pg, \
            contextlib.closing(_snapshot(source)) as src:
        at = _end(src)
        apply(src, pg, live, schema, at)
        log(f"        verifying every table at change {at} (the application goes on writing)")
        result = verify.verify(source, live.plan, dsn, schema, snapshot=src)
    if not result.equal:
        bad = ", ".join(v.table for v in result.tables if not v.equal)
        raise TargetError(f"the target differs from the source at change {at} ({bad}); no "
                          "cutover: 'sqlite2pg verify' names the rows.")
    # the changes made meanwhile, applied and their rows verified while the application
    # writes, until few are left for the window
    verified = 0
    with adbc_pg.connect(target.adbc_uri(dsn)) as pg:
        while True:
            with contextlib.closing(_snapshot(source)) as src:
                end = _end(src)
                if end - live.position <= WINDOW_CHANGES:
                    break
                done = apply(src, pg, live, schema, end, collect=True)
                rows = _verify_changed(src, dsn, live, schema, done)
                verified += rows
                log(f"        {rows} rows changed since: equal at change {end}")
    # 2. the write lock: the window
    with reader.write_lock(source):
        start = time.monotonic()
        faults.pause("cutover")
        with adbc_pg.connect(target.adbc_uri(dsn)) as pg, \
                contextlib.closing(_snapshot(source)) as src:
            done = apply(src, pg, live, schema, None, collect=True)
            changed = _verify_changed(src, dsn, live, schema, done)
        faults.pause("cutover applied")
        code = None
        if then:
            log(f"        running {then!r} (the source's writers wait)")
            code = subprocess.run(shlex.split(then), check=False).returncode
        with target.connect(dsn, autocommit=True) as conn:
            state.mark_done(conn, live.run.run_id, "cutover", rows=live.position)
            state.set_state(conn, live.run.run_id, "switched",
                            f"cut over at change {live.position}")
        pause = time.monotonic() - start
    return Cutover(at, live.position, verified + changed, changed, pause, code)


def _verify_changed(src: Any, dsn: str, live: Live, schema: str, done: Applied) -> int:
    """Compare, source against target, every row changed since the full verify (found by
    its key on both sides: the source's literals, the target's converted values)."""
    n = 0
    with target.connect(dsn, autocommit=True) as pg:
        for t in live.plan.tables:
            literals = done.literals.get(t.name, [])
            values = list(dict.fromkeys(done.keys.get(t.name, [])))
            if not literals:
                continue
            tv = verify.TableVerifier(t, schema, 50_000, 8192)
            columns = _key_columns(t)
            src_rows: dict[str, tuple[str, list[str]]] = {}
            pg_rows: dict[str, tuple[str, list[str]]] = {}
            for k in range(0, len(literals), KEYS_PER_READ):
                src_rows.update(tv.source_rows_in(
                    src, None, _in_list(columns, literals[k:k + KEYS_PER_READ])))
            pk = sql.SQL(", ").join(sql.Identifier(c) for c in t.pk)
            row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() for _ in t.pk))
            for k in range(0, len(values), KEYS_PER_READ):
                chunk = values[k:k + KEYS_PER_READ]
                where = sql.SQL("({}) IN ({})").format(pk, sql.SQL(", ").join(
                    row for _ in chunk))
                pg_rows.update(tv.target_rows_in(pg, None, where,
                                                 [v for key in chunk for v in key]))
            differences = tv.differences(src_rows, pg_rows)
            if differences:
                raise TargetError(f"table {t.name!r}: {differences[0]} after the last "
                                  "changes; no cutover (the application's writes go on on "
                                  "SQLite).")
            n += len(literals)
    return n
