"""sqlite2pg verify on a real PostgreSQL: a clean copy verifies; each kind of corruption
made after the run is detected and pinpointed to its table, primary key and column."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from conftest import build_db, edge_schemas

from transfer import pipeline, verify
from transfer.model import Plan
from transfer.plan import build_plan


def quiet(_msg: str) -> None:
    pass


@pytest.fixture
def migrated(saas_db: Path, pg_dsn: str) -> tuple[Path, Plan, str]:
    plan = build_plan(saas_db)
    pipeline.run(saas_db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    return saas_db, plan, pg_dsn


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300)


def _flip_last_bit(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    (value,) = conn.execute("SELECT duration_ms FROM api_logs WHERE id = 77").fetchone()  # type: ignore[misc]
    bits = struct.unpack(">q", struct.pack(">d", value))[0] ^ 1
    changed = struct.unpack(">d", struct.pack(">q", bits))[0]
    assert changed != value
    conn.execute("UPDATE api_logs SET duration_ms = %s WHERE id = 77", (changed,))


Corruption = Callable[[psycopg.Connection[tuple[object, ...]]], object]

CORRUPTIONS: dict[str, tuple[Corruption, str, str, str | None]] = {
    # name: (change, table, key shown, differing column or None for missing/extra)
    "integer +1": (lambda c: c.execute(
        "UPDATE api_logs SET status_code = status_code + 1 WHERE id = 42"),
        "api_logs", "id=42", "status_code"),
    "float last bit": (_flip_last_bit, "api_logs", "id=77", "duration_ms"),
    "trailing space": (lambda c: c.execute(
        "UPDATE users SET email = email || ' ' WHERE id = 5"), "users", "id=5", "email"),
    "blob byte": (lambda c: c.execute(
        "UPDATE tenant_lattices SET payload = set_byte(payload, 3, get_byte(payload, 3) # 1) "
        "WHERE id = 9"), "tenant_lattices", "id=9", "payload"),
    "timestamp +1us": (lambda c: c.execute(
        "UPDATE api_logs SET created_at = created_at + interval '1 microsecond' WHERE id = 100"),
        "api_logs", "id=100", "created_at"),
    "jsonb value": (lambda c: c.execute(
        "UPDATE webhooks SET events = events || '[\"x\"]'::jsonb WHERE id = 3"),
        "webhooks", "id=3", "events"),
    "boolean flipped": (lambda c: c.execute(
        "UPDATE webhooks SET is_active = NOT is_active WHERE id = 4"),
        "webhooks", "id=4", "is_active"),
    "deleted row": (lambda c: c.execute("DELETE FROM api_logs WHERE id = 123"),
                    "api_logs", "id=123", None),
    "extra row": (lambda c: c.execute(
        "INSERT INTO webhooks OVERRIDING SYSTEM VALUE SELECT 999999, tenant_id, url, secret, "
        "events, is_active, created_at FROM webhooks WHERE id = 1"),
        "webhooks", "id=999999", None),
}


def test_clean_copy_verifies(migrated: tuple[Path, Plan, str]) -> None:
    source, plan, dsn = migrated
    result = verify.verify(source, plan, dsn)
    assert result.equal and not result.errors
    assert {v.table for v in result.tables} == {t.name for t in plan.tables}
    assert all(v.source_rows == v.target_rows == t.rows
               for v, t in zip(result.tables, plan.tables, strict=True))
    proc = sqlite2pg("verify", str(source), "--to", dsn)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_pinpointed(migrated: tuple[Path, Plan, str], name: str) -> None:
    source, plan, dsn = migrated
    change, table, key, column = CORRUPTIONS[name]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK or trigger side effects
        change(conn)
    result = verify.verify(source, plan, dsn)
    assert not result.equal
    assert not result.errors
    bad = [v for v in result.tables if not v.equal]
    assert [v.table for v in bad] == [table]
    (diff,) = bad[0].differences
    assert key in diff.key
    if column is None:
        assert diff.kind == ("missing" if name == "deleted row" else "extra")
        assert diff.columns == []
    else:
        assert diff.kind == "differs" and diff.columns == [column]
    proc = sqlite2pg("verify", str(source), "--to", dsn, "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["equal"] is False
    listed = [t for t in report["tables"] if t["status"] == "differs"]
    assert [t["table"] for t in listed] == [table]
    assert key in listed[0]["differences"][0]["key"]


@pytest.mark.parametrize("schema", edge_schemas(), ids=lambda p: p.stem)
def test_edge_fixtures_verify(schema: Path, tmp_path: Path, pg_dsn: str) -> None:
    db = build_db(tmp_path / f"{schema.stem}.db", schema.read_text())
    plan = build_plan(db)
    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    result = verify.verify(db, plan, dsn=pg_dsn)
    assert result.equal, [(v.table, v.error, [str(d) for d in v.differences])
                          for v in result.tables if not v.equal]


def test_numeric_and_date_corruptions_are_pinpointed(tmp_path: Path, pg_dsn: str) -> None:
    db = build_db(tmp_path / "money.db", """
        CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), due DATE);
        INSERT INTO invoices VALUES (1, 10.5, '2024-01-31'), (2, 0.1, '2024-02-29'),
                                    (3, 12, '1999-12-31');""")
    plan = build_plan(db)
    assert [c.pg_type for c in plan.tables[0].columns] == ["bigint", "numeric(10,2)", "date"]
    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert verify.verify(db, plan, pg_dsn).equal
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE invoices SET amount = amount + 0.01 WHERE id = 2")
        conn.execute("UPDATE invoices SET due = due + 1 WHERE id = 3")
    result = verify.verify(db, plan, pg_dsn)
    found = sorted((d.key, d.columns) for d in result.tables[0].differences)
    assert found == [("id=2", ["amount"]), ("id=3", ["due"])]


def test_missing_table_cannot_be_verified(migrated: tuple[Path, Plan, str]) -> None:
    source, _plan, dsn = migrated
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE webhook_deliveries")
    proc = sqlite2pg("verify", str(source), "--to", dsn)
    assert proc.returncode == 2
    assert "webhook_deliveries" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_verify_reads_one_snapshot_of_a_live_source(saas_db: Path, tmp_path: Path,
                                                    pg_dsn: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The application commits (a row in api_logs, one in tenants) after the worker
    processes' snapshots began and before this process's: the pieces they computed are
    computed again here, so both tables are compared as of one snapshot (both differ, or
    neither), never api_logs as before the commit and tenants as after it."""
    import os
    import sqlite3
    import time

    from transfer import reader

    db = tmp_path / "live.db"
    db.write_bytes(saas_db.read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    plan = build_plan(db)
    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn, verify=False), quiet)

    marker, done = tmp_path / "committing", tmp_path / "committed"
    parent = os.getpid()
    pinned = reader.pinned_snapshot

    def pin_then_commit(conn: object, path: Path) -> object:
        if os.getpid() == parent:  # this process's snapshot begins after the commit
            deadline = time.monotonic() + 60
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return pinned(conn, path)  # type: ignore[arg-type]
        seen = pinned(conn, path)  # type: ignore[arg-type]
        try:  # the first worker to get here commits, once
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return seen
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect("
                        "sys.argv[1]); c.execute(\"INSERT INTO tenants (name, slug) VALUES "
                        "('late', 'late')\"); c.execute(\"UPDATE api_logs SET status_code = "
                        "999 WHERE id = 1\"); c.commit()", str(path)], check=True)
        done.touch()
        return seen

    monkeypatch.setattr(reader, "pinned_snapshot", pin_then_commit)
    monkeypatch.setattr(verify, "SPLIT_ROWS", 1000)  # api_logs in pieces, by the workers
    result = verify.verify(db, plan, pg_dsn, jobs=2)
    assert done.exists()
    differing = sorted(t.table for t in result.tables if not t.equal)
    assert differing == ["api_logs", "tenants"]
