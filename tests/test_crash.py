"""Crash safety on a real PostgreSQL: a run killed with SIGKILL (from this, another, process)
at several points leaves the target schema exactly as it was; --resume then completes with
every row equal to the source and none twice; rollback restores the replaced tables."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import saas_fixture
from paused import kill_at, start_paused

from transfer import runs, verify
from transfer.plan import build_plan

ENV = {"SQLITE2PG_CHUNK_ROWS": "2000", "SQLITE2PG_BATCH_ROWS": "1000"}


def sqlite2pg(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **ENV, **env})


def fingerprint(dsn: str, schema: str = "public") -> dict[str, tuple[int, str]]:
    """Row count and an ordered content hash of every table in ``schema``."""
    out = {}
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        for name in names:
            row = conn.execute(psycopg.sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                "FROM {}.{} t").format(psycopg.sql.Identifier(schema),
                                       psycopg.sql.Identifier(name))).fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture(scope="module")
def bigger_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SaaS fixture at scale 0.02: a different source to replace the first run with."""
    return saas_fixture(tmp_path_factory, 0.02)


@pytest.mark.parametrize("point", ["pre-data", "copy api_logs", "post-data", "switch"])
def test_sigkill_leaves_target_as_it_was_and_resume_completes(
        point: str, saas_db: Path, bigger_db: Path, pg_dsn: str, tmp_path: Path) -> None:
    first = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--no-verify")
    assert first.returncode == 0, first.stderr
    before = fingerprint(pg_dsn)
    assert before["api_logs"][0] == 8000

    proc = start_paused(point, "run", str(bigger_db), "--to", pg_dsn, "--if-exists", "replace",
                        env=ENV)
    if point == "post-data":  # no autovacuum on the staging tables until the switch
        with psycopg.connect(pg_dsn) as conn:
            held = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                                "n.oid = c.relnamespace WHERE n.nspname LIKE 'sqlite2pg_staging%%' "
                                "AND c.relkind = 'r' AND 'autovacuum_enabled=false' = "
                                "ANY(c.reloptions)").fetchone()
        assert held == (8,)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert fingerprint(pg_dsn) == before  # exactly as it was

    found, _orphans = runs.status(pg_dsn)
    assert found[0].label == "interrupted"
    with psycopg.connect(pg_dsn) as conn:
        committed = dict(conn.execute(  # type: ignore[arg-type]
            "SELECT substr(item, 7), rows FROM sqlite2pg.progress WHERE item LIKE 'table %%' "
            "AND run_id = %s", (found[0].run.run_id,)).fetchall())
    report = tmp_path / "report.json"
    resumed = sqlite2pg("run", str(bigger_db), "--to", pg_dsn, "--if-exists", "replace",
                        "--resume", "--report", str(report))
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    tables = {t["table"]: t for t in json.loads(report.read_text())["tables"]}
    if point == "copy api_logs":
        assert 0 < committed["api_logs"] < 16000
    for name, t in tables.items():  # rows committed before the kill are not read again
        assert t["rows_read"] == t["rows"] - committed.get(name, 0), name
        assert t["verified"] == "equal", name
    assert tables["api_logs"]["rows"] == 16000
    after = fingerprint(pg_dsn)
    assert after["api_logs"][0] == 16000 and after != before
    result = verify.verify(bigger_db, build_plan(bigger_db), pg_dsn)
    assert result.equal, [str(d) for v in result.tables for d in v.differences]
    with psycopg.connect(pg_dsn) as conn:  # keys are in place: no row can be there twice
        pk = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND "
                          "connamespace = 'public'::regnamespace").fetchone()
        options = conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = "
                               "'public'::regnamespace AND reloptions IS NOT NULL").fetchone()
    assert pk == (8,)
    assert options == (0,)  # autovacuum is back on in the switched tables

    back = sqlite2pg("rollback", "--to", pg_dsn, "--yes")
    assert back.returncode == 0, back.stderr
    assert "restored 8 tables" in back.stdout
    assert fingerprint(pg_dsn) == before


def test_resume_refuses_a_changed_source(saas_db: Path, tmp_path: Path, pg_dsn: str) -> None:
    db = tmp_path / "changing.db"
    db.write_bytes(saas_db.read_bytes())
    proc = start_paused("copy api_logs", "run", str(db), "--to", pg_dsn, env=ENV)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE api_logs SET status_code = 599 WHERE id = 1")
    resumed = sqlite2pg("run", str(db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 2
    assert "has changed since run" in resumed.stderr
    assert "Traceback" not in resumed.stderr
    cleaned = sqlite2pg("clean", "--to", pg_dsn)
    assert "dropped schema sqlite2pg_staging_" in cleaned.stdout
    found, orphans = runs.status(pg_dsn)
    assert found[0].label == "failed" and orphans == []


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(saas_db: Path, pg_dsn: str) -> None:
    proc = start_paused("post-data", "run", str(saas_db), "--to", pg_dsn, env=ENV)
    os.kill(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    resumed = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert fingerprint(pg_dsn)["api_logs"][0] == 8000


def test_backup_keeps_the_snapshot_and_resume_reads_it(saas_db: Path, tmp_path: Path,
                                                       pg_dsn: str) -> None:
    """--backup: the run reads a VACUUM INTO copy, so an interrupted run resumes from that
    very snapshot even after the application wrote to the source."""
    db = tmp_path / "live.db"
    db.write_bytes(saas_db.read_bytes())
    backups = tmp_path / "backups"
    proc = start_paused("copy api_logs", "run", str(db), "--to", pg_dsn, "--backup",
                        str(backups), env=ENV)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    (copy,) = backups.glob("live-*.db")
    with sqlite3.connect(db) as conn:  # the application goes on writing
        conn.execute("DELETE FROM api_logs WHERE id <= 10")
    resumed = sqlite2pg("run", str(db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert str(copy) in resumed.stderr
    assert fingerprint(pg_dsn)["api_logs"][0] == 8000  # the snapshot, not the changed file
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM api_logs").fetchone() == (8000,)


def test_a_view_postgresql_refused_is_reported_by_the_resumed_run(tmp_path: Path,
                                                                   pg_dsn: str) -> None:
    """PostgreSQL refuses one view (here an event trigger of the target's own refuses it);
    the run goes on without it, is killed before its switch, and the resumed run, which
    does not create views again, reports that view as not carried, as the first would
    have."""
    db = tmp_path / "views.db"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);"
                       "INSERT INTO t (a) VALUES ('x'), ('y');"
                       "CREATE VIEW kept AS SELECT a FROM t;"
                       "CREATE VIEW refused AS SELECT id FROM t;")
    conn.commit()
    conn.close()
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        pg.execute("""CREATE FUNCTION refuse_view() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                           WHERE object_identity LIKE '%.refused') THEN
                    RAISE EXCEPTION 'views named refused are not allowed here';
                END IF;
            END $$""")
        pg.execute("CREATE EVENT TRIGGER refuse_view ON ddl_command_end WHEN TAG IN "
                   "('CREATE VIEW') EXECUTE FUNCTION refuse_view()")
    kill_at("switch", "run", str(db), "--to", pg_dsn, "--no-verify")
    report = tmp_path / "report.json"
    resumed = sqlite2pg("run", str(db), "--to", pg_dsn, "--resume", "--report", str(report))
    assert resumed.returncode == 0, resumed.stderr
    objects = json.loads(report.read_text())["objects"]
    assert objects["created"]["views"] == 1
    refused = [n for n in objects["not_carried"] if n["table"] == "refused"]
    assert len(refused) == 1 and "views named refused are not allowed here" in \
        refused[0]["reason"], objects["not_carried"]
    assert "view refused is not carried over" in resumed.stdout + resumed.stderr
    with psycopg.connect(pg_dsn) as pg:
        views = pg.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'").fetchall()
    assert views == [("kept",)]
