"""Command-line behaviour: one clear sentence and an exit code for bad input, never a
traceback; plan's exit code reflects blockers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_db


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=120)


def assert_one_sentence(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    assert_one_sentence(sqlite2pg("plan", str(tmp_path / "nope.db")), 2, "no such file")


def test_not_sqlite(tmp_path: Path) -> None:
    f = tmp_path / "x.db"
    f.write_text("hello, I am text\n" * 20)
    assert_one_sentence(sqlite2pg("plan", str(f)), 2, "not a SQLite 3 database")


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "x.db"
    f.write_bytes(b"")
    assert_one_sentence(sqlite2pg("plan", str(f)), 2, "empty")


def test_truncated_file(tmp_path: Path, saas_db: Path) -> None:
    f = tmp_path / "cut.db"
    f.write_bytes(saas_db.read_bytes()[: 64 * 1024])
    assert_one_sentence(sqlite2pg("plan", str(f)), 2, "truncated")


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_file_being_written_is_not_called_truncated(tmp_path: Path, journal: str) -> None:
    """A checkpoint writes page 1 (the new page count) before the pages that extend the
    file: for a moment a WAL database looks truncated. Looked at again, it is whole; one
    that stays short is truncated (as in rollback-journal mode, whose commits do the
    same)."""
    import sqlite3
    import threading
    import time

    from transfer import source
    from transfer.errors import SourceError

    db = tmp_path / "wal.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(100)])
    if journal == "wal":
        sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    whole = db.read_bytes()
    for name in ("mid-checkpoint.db", "cut.db"):
        (tmp_path / name).write_bytes(whole[: len(whole) - 4096])
    later = threading.Timer(0.1, lambda: (tmp_path / "mid-checkpoint.db").write_bytes(whole))
    later.start()
    start = time.monotonic()
    source.check_file(tmp_path / "mid-checkpoint.db")
    assert time.monotonic() - start >= 0.1
    later.join()
    with pytest.raises(SourceError, match="is truncated"):
        source.check_file(tmp_path / "cut.db")


def test_directory(tmp_path: Path) -> None:
    assert_one_sentence(sqlite2pg("plan", str(tmp_path)), 2, "directory")


def test_bad_dsn_hides_password(tmp_path: Path, saas_db: Path) -> None:
    proc = sqlite2pg("run", str(saas_db), "--to",
                     "postgresql://bob:s3cret-pw@127.0.0.1:1/db", "-q")
    assert_one_sentence(proc, 2, "cannot connect")
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_wide_table_is_a_blocker(tmp_path: Path) -> None:
    cols = ", ".join(f"c{i} INTEGER" for i in range(1601))
    db = build_db(tmp_path / "wide.db", f"CREATE TABLE wide_one (id INTEGER PRIMARY KEY, {cols});"
                                        "CREATE TABLE fine (id INTEGER PRIMARY KEY);")
    proc = sqlite2pg("plan", str(db))
    assert proc.returncode == 1
    assert "wide_one: has 1602 columns" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_bad_cast_is_usage_error(saas_db: Path) -> None:
    assert_one_sentence(sqlite2pg("plan", str(saas_db), "--cast", "nonsense"), 64, "--cast")


@pytest.mark.parametrize("fmt", ["text", "sql", "json"])
def test_plan_formats(saas_db: Path, fmt: str) -> None:
    proc = sqlite2pg("plan", str(saas_db), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "api_logs" in proc.stdout


def test_version() -> None:
    proc = sqlite2pg("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("sqlite2pg ")


def test_locked_source(tmp_path: Path, saas_db: Path) -> None:
    """A writer holding an exclusive lock (rollback-journal mode) for longer than the busy
    timeout: one sentence, exit 2."""
    import sqlite3

    db = tmp_path / "locked.db"
    db.write_bytes(saas_db.read_bytes())
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        assert_one_sentence(sqlite2pg("plan", str(db)), 2, "locked by another process")
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_target_without_permission(saas_db: Path, pg_dsn: str) -> None:
    """A role that may connect but not create schemas: one sentence naming the fix."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS sqlite2pg_reader")
        conn.execute("CREATE ROLE sqlite2pg_reader LOGIN PASSWORD 'pw-not-shown'")
        dbname = conn.info.dbname
        conn.execute(f'REVOKE CREATE ON DATABASE "{dbname}" FROM PUBLIC')
    info = conninfo_to_dict(pg_dsn)
    info.update(user="sqlite2pg_reader", password="pw-not-shown")
    proc = sqlite2pg("run", str(saas_db), "--to", make_conninfo("", **info), "-q")
    try:
        assert_one_sentence(proc, 2, "may not create objects in database", "GRANT CREATE")
        assert "pw-not-shown" not in proc.stderr + proc.stdout
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP OWNED BY sqlite2pg_reader")
            conn.execute("DROP ROLE sqlite2pg_reader")


def test_cli_reference_is_generated_from_the_commands() -> None:
    from conftest import ROOT

    from transfer.cli import reference_markdown

    assert (ROOT / "docs" / "cli.md").read_text() == reference_markdown(), \
        "run scripts/cli_reference"


def test_no_room_for_the_tenant_order_sort(tmp_path: Path, pg_dsn: str) -> None:
    """Tenant order sorts through SQLite's temporary files; when they cannot be written
    (here a file-size limit, as a full disk would), one sentence names the table and both
    ways out, exit 2, the target as it was; --order source needs no such room."""
    import resource
    import signal

    import psycopg
    from conftest import saas_fixture_at

    db = saas_fixture_at(tmp_path / "saas.db", 0.1)  # api_logs: 80,000 rows, sorted on disk

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limited(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "transfer", "run", str(db), "--to", pg_dsn,
                               "--no-verify", "--quiet", *args], capture_output=True, text=True,
                              timeout=120, preexec_fn=small_files)

    proc = limited()
    assert_one_sentence(proc, 2, "api_logs", "tenant order", "SQLITE_TMPDIR", "--order source")
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == (0,)
    assert limited("--order", "source").returncode == 0


def test_an_internal_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A bug (here one planted in the planner) is not a traceback, nor exit 1 (which CI reads
    as 'the data differs'); SQLITE2PG_DEBUG=1 shows the traceback."""
    db = build_db(tmp_path / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY);")
    code = ("import sys; import transfer.plan as p\n"
            "def boom(*a, **k): raise RuntimeError('planted')\n"
            "p.build_plan = boom\n"
            f"sys.argv = ['sqlite2pg', 'plan', {str(db)!r}]\n"
            "from transfer.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_one_sentence(proc, 2, "internal error", "RuntimeError: planted", "SQLITE2PG_DEBUG")
    debug = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "SQLITE2PG_DEBUG": "1"})
    assert "Traceback" in debug.stderr
