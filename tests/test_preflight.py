"""Fail fast: a target a run cannot complete in is refused before any source row is read
(the run is told to pause right after its profile, and never gets there), and ``check``
does all of run's checks and writes nothing."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import build_db, schemas
from psycopg import sql

SMALL = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id), body TEXT);
INSERT INTO notes VALUES (1, 1, 'a');
"""


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    """Paused after the profile (SQLITE2PG_PAUSE_AT=plan), a run that got there would wait
    to be killed: the timeout fails the test."""
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "SQLITE2PG_PAUSE_AT": "plan"})


def refused_before_reading(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "paused at plan" not in proc.stderr
    assert "Traceback" not in proc.stderr
    error = [ln for ln in proc.stderr.splitlines() if ln.startswith("sqlite2pg: error")]
    assert len(error) == 1, proc.stderr
    for w in words:
        assert w in error[0], error[0]


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "small.db", SMALL)


@pytest.fixture
def role(pg_dsn: str) -> Iterator[str]:
    """A login role that owns nothing and may not create schemas in the database."""
    name = f"r_{secrets.token_hex(4)}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def as_role(dsn: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    info["user"] = name
    return psycopg.conninfo.make_conninfo("", **info)


def test_a_missing_database_is_refused_before_the_source_is_read(small_db: Path,
                                                                 pg_dsn: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    info["dbname"] = "no_such_database"
    refused_before_reading(
        sqlite2pg("run", str(small_db), "--to", psycopg.conninfo.make_conninfo("", **info)),
        "no_such_database")


def test_a_role_that_may_not_create_schemas_is_refused_first(small_db: Path, pg_dsn: str,
                                                              role: str) -> None:
    before = schemas(pg_dsn)
    proc = sqlite2pg("run", str(small_db), "--to", as_role(pg_dsn, role))
    refused_before_reading(proc, role, "may not create objects in database", "GRANT CREATE")
    assert schemas(pg_dsn) == before


def test_a_target_schema_the_role_may_not_write_is_refused_first(small_db: Path, pg_dsn: str,
                                                                 role: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), sql.Identifier(role)))
        conn.execute("CREATE SCHEMA app")
    proc = sqlite2pg("run", str(small_db), "--to", as_role(pg_dsn, role),
                     "--target-schema", "app")
    refused_before_reading(proc, "schema 'app'", f'GRANT CREATE ON SCHEMA "app" TO "{role}"')


def test_same_named_tables_are_refused_first(small_db: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (x int)")
    refused_before_reading(sqlite2pg("run", str(small_db), "--to", pg_dsn), "notes",
                           "--if-exists replace")
    # excluded, it is no obstacle: the run goes on to its profile (and pauses there)
    proc = subprocess.Popen([sys.executable, "-m", "transfer", "run", str(small_db), "--to",
                             pg_dsn, "--exclude", "notes"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SQLITE2PG_PAUSE_AT": "plan"})
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "paused at plan" in line:
                break
        else:
            raise AssertionError("the run stopped before its profile")
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_check_does_runs_checks_and_writes_nothing(small_db: Path, pg_dsn: str) -> None:
    before = schemas(pg_dsn)
    ok = subprocess.run([sys.executable, "-m", "transfer", "check", str(small_db), "--to",
                         pg_dsn], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "ready: a run can create 2 tables" in ok.stdout
    assert schemas(pg_dsn) == before
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (x int)")
    clash = subprocess.run([sys.executable, "-m", "transfer", "check", str(small_db), "--to",
                            pg_dsn], capture_output=True, text=True, timeout=120)
    assert clash.returncode == 2 and "items" in clash.stderr, clash.stderr
    replace = subprocess.run([sys.executable, "-m", "transfer", "check", str(small_db), "--to",
                              pg_dsn, "--if-exists", "replace"], capture_output=True,
                             text=True, timeout=120)
    assert replace.returncode == 0, replace.stderr
    assert schemas(pg_dsn) == before
