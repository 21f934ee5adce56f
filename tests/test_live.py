"""A live cutover on a real PostgreSQL, with a real writer process: capture, run --live,
sync, cutover --then stopping the writer; every row of the source equals the target
(verify and a cell-by-cell comparison), and killed syncs and cutovers resume to the same
result, no change applied twice or skipped."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from compare import compare_all
from conftest import fresh_database, saas_fixture_at
from paused import kill_at

from transfer import model, state

APPS = Path(__file__).resolve().parent / "apps"


def sqlite2pg(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})


@pytest.fixture
def live_db(tmp_path: Path) -> Path:
    return make_live_db(tmp_path, "wal")


@pytest.fixture
def second_dsn(pg_server: str) -> Iterator[str]:
    """A second fresh database beside ``pg_dsn``: another target of the same source."""
    with fresh_database(pg_server) as dsn:
        yield dsn


def make_live_db(tmp_path: Path, journal: str) -> Path:
    db = saas_fixture_at(tmp_path / "live.db", 0.01)
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("CREATE TABLE tags (tenant_id INTEGER, tag TEXT, rowid_hint INTEGER, "
                     "PRIMARY KEY (tenant_id, tag)) WITHOUT ROWID")
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)",
                         [(1, f"seed{i}", -i) for i in range(20)])
    return db


def start_writer(db: Path, stop: Path, rate: float = 200) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(APPS / "live_writer.py"), str(db), str(stop),
                             str(rate)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def recorded_plan(dsn: str) -> model.Plan:
    with psycopg.connect(dsn, autocommit=True) as conn:
        (r,) = [r for r in state.runs(conn) if r.options.get("live")]  # type: ignore[arg-type]
    return model.stored_plan(r.plan, r.run_id)


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_live_cutover_with_a_writer_loses_nothing(journal: str, tmp_path: Path,
                                                    pg_dsn: str) -> None:
    live_db = make_live_db(tmp_path, journal)
    stop = tmp_path / "stop"
    writer = start_writer(live_db, stop)
    try:
        time.sleep(0.5)
        run = sqlite2pg("run", str(live_db), "--to", pg_dsn, "--live")
        assert run.returncode == 0, run.stderr + run.stdout
        # (a rollback journal: the application's writes wait for the copy, said so)
        assert ("the source uses a rollback journal" in run.stderr) == (journal == "delete")
        time.sleep(0.5)
        synced = sqlite2pg("sync", str(live_db), "--to", pg_dsn)
        assert synced.returncode == 0, synced.stderr
        time.sleep(0.5)
        cut = sqlite2pg("cutover", str(live_db), "--to", pg_dsn, "--then", f"touch {stop}")
        assert cut.returncode == 0, cut.stderr + cut.stdout
        assert "paused" in cut.stdout
    finally:
        stop.touch(exist_ok=True)
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    writes = int(out.split()[0])
    assert writes > 50  # the application wrote throughout
    plan = recorded_plan(pg_dsn)
    assert compare_all(live_db, pg_dsn, plan)[:12] == [], cut.stdout + cut.stderr + run.stderr
    assert sqlite2pg("verify", str(live_db), "--to", pg_dsn).returncode == 0
    with sqlite3.connect(live_db) as conn:
        last = conn.execute("SELECT max(seq) FROM sqlite2pg_changes").fetchone()[0]
    assert f"cut over at change {last}" in cut.stdout
    with sqlite3.connect(live_db) as conn:  # a writer the cutover did not move
        conn.execute("UPDATE users SET full_name = 'late' WHERE id = 1")
    status = sqlite2pg("status", "--to", pg_dsn)
    assert "1 changes reached the source after the cutover" in status.stdout, status.stdout
    stop_capture(live_db)


def stop_capture(db: Path) -> None:
    """capture stop, which leaves nothing of the capture in the source."""
    stopped = sqlite2pg("capture", "stop", str(db))
    assert stopped.returncode == 0, stopped.stderr
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE "
                            "'sqlite2pg%'").fetchone()
    assert left == (0,)


def write_for(db: Path, seconds: float, tmp_path: Path) -> None:
    """The application writing for a while (400 transactions a second), then stopped."""
    stop = tmp_path / "stop"
    stop.unlink(missing_ok=True)
    writer = start_writer(db, stop, rate=400)
    time.sleep(seconds)
    stop.touch()
    writer.communicate(timeout=60)


def position(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT rows FROM sqlite2pg.progress WHERE item = 'capture'"
                           ).fetchone()
    assert row is not None
    return int(row[0])


def test_killed_syncs_and_cutovers_resume_to_the_same_result(live_db: Path, tmp_path: Path,
                                                            pg_dsn: str) -> None:
    assert sqlite2pg("run", str(live_db), "--to", pg_dsn, "--live").returncode == 0
    write_for(live_db, 1.0, tmp_path)
    before = position(pg_dsn)
    kill_at("sync commit", "sync", str(live_db), "--to", pg_dsn)
    assert position(pg_dsn) == before  # killed inside the transaction: not applied
    write_for(live_db, 0.5, tmp_path)
    kill_at("sync committed", "sync", str(live_db), "--to", pg_dsn)
    assert position(pg_dsn) > before  # killed after its commit: that batch is applied
    write_for(live_db, 0.5, tmp_path)
    kill_at("cutover", "cutover", str(live_db), "--to", pg_dsn)
    kill_at("cutover applied", "cutover", str(live_db), "--to", pg_dsn)
    cut = sqlite2pg("cutover", str(live_db), "--to", pg_dsn)
    assert cut.returncode == 0, cut.stderr + cut.stdout
    assert compare_all(live_db, pg_dsn, recorded_plan(pg_dsn)) == []
    assert sqlite2pg("verify", str(live_db), "--to", pg_dsn).returncode == 0


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_the_cutovers_write_lock_holds_while_snapshots_open_and_close(journal: str,
                                                                     tmp_path: Path) -> None:
    """POSIX drops a process's locks on a file when any of its descriptors of it closes:
    the lock must survive the snapshots the window opens and closes."""
    from transfer import reader

    db = tmp_path / "lock.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("CREATE TABLE t (x)")
    attempt = ("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=0.3, "
               "isolation_level=None)\ntry:\n    c.execute('BEGIN IMMEDIATE')\n"
               "    print('granted')\nexcept sqlite3.OperationalError as e:\n    print(e)\n")
    with reader.write_lock(db):
        for _ in range(2):
            snap = reader.connect(db)
            reader.open_snapshot(snap)
            snap.close()
        other = subprocess.run([sys.executable, "-c", attempt, str(db)], capture_output=True,
                               text=True, timeout=60)
        assert other.stdout.strip() == "database is locked", other.stdout + other.stderr
    other = subprocess.run([sys.executable, "-c", attempt, str(db)], capture_output=True,
                           text=True, timeout=60)
    assert other.stdout.strip() == "granted"


def log_rows(db: Path) -> tuple[int, int | None, int | None]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT count(*), min(seq), max(seq) FROM sqlite2pg_changes"
                           ).fetchone()
    return int(row[0]), row[1], row[2]


def touch_users(db: Path, first: int, n: int) -> None:
    """The application updating ``n`` users (one change each)."""
    with sqlite3.connect(db) as conn:
        conn.executemany("UPDATE users SET full_name = full_name || '.' WHERE id = ?",
                         [(i,) for i in range(first, first + n)])


def test_the_change_log_is_trimmed_of_what_every_live_run_applied(
        live_db: Path, pg_dsn: str, second_dsn: str) -> None:
    """Two live runs of one source, into two databases: the log keeps every change one of
    them has not applied, and loses the rest (but its last row); a target behind what
    the log holds is refused, naming why, never caught up with a hole."""
    assert sqlite2pg("run", str(live_db), "--to", pg_dsn, "--live").returncode == 0
    touch_users(live_db, 1, 30)
    assert sqlite2pg("run", str(live_db), "--to", second_dsn, "--live").returncode == 0
    touch_users(live_db, 31, 20)
    held = log_rows(live_db)
    assert held[:2] == (held[2], 1) and held[2] >= 50
    assert position(pg_dsn) == 0 and 30 <= position(second_dsn) < held[2]
    synced = sqlite2pg("sync", str(live_db), "--to", second_dsn)
    assert synced.returncode == 0, synced.stderr
    assert log_rows(live_db) == held  # the first run has applied none of them
    synced = sqlite2pg("sync", str(live_db), "--to", pg_dsn)
    assert synced.returncode == 0, synced.stderr
    last = held[2]
    assert log_rows(live_db) == (1, last, last)  # every run applied them: all but the last
    touch_users(live_db, 1, 10)
    for dsn in (pg_dsn, second_dsn):
        assert sqlite2pg("sync", str(live_db), "--to", dsn).returncode == 0
        assert sqlite2pg("verify", str(live_db), "--to", dsn).returncode == 0
    last = position(pg_dsn)
    assert last > held[2] and log_rows(live_db) == (1, last, last)
    with psycopg.connect(second_dsn) as conn:  # as if restored from an older backup
        conn.execute("UPDATE sqlite2pg.progress SET rows = %s WHERE item = 'capture'",
                     (last - 5,))
    touch_users(live_db, 1, 5)
    behind = sqlite2pg("sync", str(live_db), "--to", second_dsn)
    assert behind.returncode != 0
    assert f"no longer holds the changes after {last - 5}" in behind.stderr, behind.stderr
    assert "Traceback" not in behind.stderr
    stop_capture(live_db)


def readers(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT run_id FROM sqlite2pg_readers ORDER BY 1")]


def test_a_live_run_keeps_the_log_from_its_capture_start_until_it_ends(
        live_db: Path, pg_dsn: str, second_dsn: str) -> None:
    """A live run is a reader of the change log from its capture's start (before its copy's
    snapshot: another run's sync trims nothing it will need), and is forgotten when it
    fails, when clean drops what it left, or when it is rolled back."""
    from transfer import capture

    assert sqlite2pg("run", str(live_db), "--to", pg_dsn, "--live").returncode == 0
    touch_users(live_db, 1, 10)
    capture.start(live_db, "copying")  # (a second live run, its copy under way)
    start = log_rows(live_db)[2]
    touch_users(live_db, 11, 5)
    assert sqlite2pg("sync", str(live_db), "--to", pg_dsn).returncode == 0
    synced = sqlite2pg("sync", str(live_db), "--to", pg_dsn)
    assert f"keeps 5 changes from change {start + 1} for live run copying" in synced.stderr
    assert log_rows(live_db)[:2] == (5, start + 1)  # what the copying run will need
    assert f"capture forget {live_db} copying" in synced.stderr  # (should it apply no more)
    forgot = sqlite2pg("capture", "forget", str(live_db), "copying")
    assert forgot.returncode == 0 and "forgot live run copying" in forgot.stdout
    assert sqlite2pg("sync", str(live_db), "--to", pg_dsn).returncode == 0
    assert log_rows(live_db)[0] == 1
    (first,) = readers(live_db)

    refused = sqlite2pg("run", str(live_db), "--to", second_dsn, "--live", "--cast",
                        "users.email=integer")  # (a blocker, found after capture began)
    assert refused.returncode == 1 and "--cast integer" in refused.stderr, refused.stderr
    assert "capturing the changes" in refused.stderr  # (refused after its capture began)
    assert readers(live_db) == [first]
    kill_at("copy api_logs", "run", str(live_db), "--to", second_dsn, "--live",
            env={"SQLITE2PG_CHUNK_ROWS": "200", "SQLITE2PG_BATCH_ROWS": "100"})
    assert len(readers(live_db)) == 2  # killed while copying: it may be resumed
    cleaned = sqlite2pg("clean", "--to", second_dsn)
    assert cleaned.returncode == 0, cleaned.stderr
    assert readers(live_db) == [first]
    rolled = sqlite2pg("rollback", "--to", pg_dsn, "--yes")  # (the first run, undone)
    assert rolled.returncode == 0, rolled.stderr
    assert readers(live_db) == []
