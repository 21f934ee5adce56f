"""Safe by construction, on a real PostgreSQL: nothing from outside the code reaches a
statement unchecked (type maps, --cast, plan files, plans stored in the target), one
statement at a time; honest exit codes for every command; a refused run writes nothing;
--resume always finishes; timeouts named as such; no password in any output; verify
independent of the copier; the source's directory left as it was."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import build_db, schemas
from paused import kill_at

from transfer import target
from transfer.errors import TargetError

SMALL = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DECIMAL(10,2));
INSERT INTO items VALUES (1, 'one', 1.5), (2, 'two', 2.25), (3, 'three', NULL);
CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id), body TEXT);
INSERT INTO notes VALUES (1, 1, 'a'), (2, 2, 'b');
"""


def sqlite2pg(*args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run the command; an environment variable given as None is unset."""
    merged = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300,
                          env={k: v for k, v in merged.items() if v is not None})


def one_sentence(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    said = [re.sub(r"^\d\d:\d\d:\d\d ", "", ln) for ln in proc.stderr.splitlines()]
    lines = [ln for ln in said if ln.strip() and not ln.startswith(" ")
             and not ln.startswith(("STEP", "profile ", "copy ", "verify "))]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "small.db", SMALL)


@pytest.fixture
def victim(pg_dsn: str) -> str:
    """A table an injection would drop."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE victim (x int)")
        conn.execute("INSERT INTO victim VALUES (1)")
    return pg_dsn


def victim_intact(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT to_regclass('public.victim') IS NOT NULL").fetchone() == (
            True,)


# -- nothing from outside reaches a statement unchecked --------------------------------
def test_a_type_map_rule_that_is_not_a_type_is_refused(small_db: Path, tmp_path: Path,
                                                       victim: str) -> None:
    rules = tmp_path / "evil.toml"
    rules.write_text('[[rule]]\nmatch = "TEXT"\nkind = "text"\n'
                     'pg = "text); DROP TABLE IF EXISTS victim; --"\n')
    before = schemas(victim)
    one_sentence(sqlite2pg("plan", str(small_db), "--type-map", str(rules)), 2,
                 "is not a PostgreSQL type")
    one_sentence(sqlite2pg("run", str(small_db), "--to", victim, "--type-map", str(rules)), 2,
                 "is not a PostgreSQL type")
    assert victim_intact(victim) and schemas(victim) == before


def test_a_cast_that_is_not_a_type_is_refused(small_db: Path, victim: str) -> None:
    before = schemas(victim)
    one_sentence(sqlite2pg("run", str(small_db), "--to", victim, "--cast",
                           "items.name=varchar(5)); DROP TABLE victim; --"), 2,
                 "--cast items.name", "is not a PostgreSQL type")
    assert victim_intact(victim) and schemas(victim) == before


@pytest.mark.parametrize("field, value, words", [
    (("tables", 0, "columns", 1, "pg_type"), "text); DROP TABLE victim; --",
     "is not a PostgreSQL type"),
    (("tables", 0, "columns", 1, "select"), "(SELECT load_extension('x'))",
     "is not one this tool writes"),
    (("tables", 0, "columns", 1, "pg_name"), "x" * 70, "is not a PostgreSQL name"),
    (("tables", 0, "sequence_floor"), "1); DROP TABLE victim; --", "is not an integer"),
    (("tables", 0, "rowid"), "rowid); DROP TABLE victim; --", "rowid"),
    (("tables", 1, "foreign_keys", 0, "on_delete"), "CASCADE; DROP TABLE victim",
     "actions are not PostgreSQL's"),
    (("tables", 0, "columns", 1, "convert"), "exec", "unknown conversion"),
])
def test_a_tampered_plan_file_is_refused(small_db: Path, tmp_path: Path, victim: str,
                                         field: tuple[str | int, ...], value: str,
                                         words: str) -> None:
    plan_file = tmp_path / "plan.json"
    assert sqlite2pg("plan", str(small_db), "-o", str(plan_file)).returncode == 0
    data = json.loads(plan_file.read_text())
    node = data
    for k in field[:-1]:
        node = node[k]
    assert data["tables"][0]["name"] == "items" and data["tables"][1]["name"] == "notes"
    node[field[-1]] = value
    plan_file.write_text(json.dumps(data))
    before = schemas(victim)
    one_sentence(sqlite2pg("run", str(small_db), "--to", victim, "--plan", str(plan_file)),
                 2, f"plan file {plan_file}", words)
    assert victim_intact(victim) and schemas(victim) == before


def test_a_tampered_stored_plan_is_refused(small_db: Path, victim: str) -> None:
    assert sqlite2pg("run", str(small_db), "--to", victim).returncode == 0
    with psycopg.connect(victim) as conn:
        conn.execute("UPDATE sqlite2pg.runs SET plan = jsonb_set(plan, "
                     "'{tables,0,columns,1,pg_type}', '\"text); DROP TABLE victim; --\"')")
    one_sentence(sqlite2pg("verify", str(small_db), "--to", victim), 2,
                 "the plan recorded for run", "is not a PostgreSQL type")
    assert victim_intact(victim)


def test_a_session_runs_one_statement_at_a_time(victim: str) -> None:
    seen: list[str] = []
    target.tracer = seen.append
    try:
        with target.connect(victim, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
                conn.execute("SELECT 1; DROP TABLE victim")
            settings = conn.execute(
                "SELECT current_setting('standard_conforming_strings'), "
                "current_setting('statement_timeout'), "
                "current_setting('idle_in_transaction_session_timeout'), "
                "current_setting('application_name')").fetchone()
    finally:
        target.tracer = None
    assert victim_intact(victim)
    assert settings == ("on", "0", "0", "sqlite2pg")
    assert seen[0] == "SELECT 1; DROP TABLE victim"


# -- exit codes ------------------------------------------------------------------------
@pytest.mark.parametrize("args, code, words", [
    (["run", "{db}", "--to", "{dsn}", "--include", "nomatch*"], 64, "--include 'nomatch*'"),
    (["run", "{db}", "--to", "{dsn}", "--exclude", "zzz"], 64, "--exclude 'zzz'"),
    (["verify", "{db}", "--to", "{dsn}", "--tables", "nomatch*"], 64, "--tables 'nomatch*'"),
    (["run", "{db}", "--to", "{dsn}", "--lock-timeout", "soon"], 64, "lock-timeout"),
    (["plan", "{db}", "--cast", "nonsense"], 64, "--cast"),
    (["run", "{db}", "--to", "{dsn}", "--bogus"], 64, "No such option"),
    (["plan", "{db}", "--format", "yaml"], 64, "--format"),
    (["frobnicate"], 64, "No such command"),
    (["verify", "{db}"], 64, "no target"),
    (["plan", "{missing}"], 2, "no such file"),
    (["verify", "{missing}", "--to", "{dsn}"], 2, "no such file"),
    (["status", "--to", "postgresql://u@127.0.0.1:1/x"], 2, "cannot connect"),
    (["rollback", "--to", "{dsn}"], 2, "no switched run"),
])
def test_every_documented_exit_code(small_db: Path, tmp_path: Path, pg_dsn: str,
                                    args: list[str], code: int, words: str) -> None:
    before = schemas(pg_dsn)
    filled = [a.format(db=small_db, dsn=pg_dsn, missing=tmp_path / "none.db") for a in args]
    proc = sqlite2pg(*filled, DATABASE_URL=None, PGHOST=None, PGDATABASE=None, PGSERVICE=None)
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert words in proc.stderr, proc.stderr
    assert schemas(pg_dsn) == before  # nothing created, not even the bookkeeping schema


def test_exit_codes_of_success_and_differences(small_db: Path, tmp_path: Path,
                                               pg_dsn: str) -> None:
    wide = build_db(tmp_path / "wide.db", "CREATE TABLE w (" + ", ".join(
        f"c{i} INTEGER" for i in range(1601)) + ");")
    assert sqlite2pg("plan", str(small_db)).returncode == 0
    assert sqlite2pg("plan", str(wide)).returncode == 1  # blockers
    assert sqlite2pg("status", "--to", pg_dsn).returncode == 0
    assert sqlite2pg("run", str(small_db), "--to", pg_dsn).returncode == 0
    assert sqlite2pg("verify", str(small_db), "--to", pg_dsn).returncode == 0
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE items SET name = 'changed' WHERE id = 2")
    differs = sqlite2pg("verify", str(small_db), "--to", pg_dsn)
    assert differs.returncode == 1 and "row id=2 differs (columns: name)" in differs.stdout
    assert sqlite2pg("rollback", "--to", pg_dsn, "--yes").returncode == 0
    assert sqlite2pg("clean", "--to", pg_dsn, "--backups", "--yes").returncode == 0


def test_the_target_can_come_from_the_environment(small_db: Path, pg_dsn: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    env: dict[str, str | None] = {"PGHOST": str(params["host"]), "PGPORT": str(params["port"]),
           "PGUSER": str(params["user"]), "PGDATABASE": str(params["dbname"]),
           "DATABASE_URL": None}
    assert sqlite2pg("run", str(small_db), **env).returncode == 0
    url = (f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/"
           f"{params['dbname']}")  # (a SQLAlchemy URL, as frameworks set it)
    proc = sqlite2pg("verify", str(small_db), DATABASE_URL=url, PGHOST=None, PGDATABASE=None)
    assert proc.returncode == 0, proc.stderr


# -- a refused run writes nothing ------------------------------------------------------
def test_refused_runs_leave_the_target_schemas_unchanged(small_db: Path, tmp_path: Path,
                                                         pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE items (keep int)")
    before = schemas(pg_dsn)
    one_sentence(sqlite2pg("run", str(small_db), "--to", pg_dsn), 2, "already has items")
    wide = build_db(tmp_path / "wide.db", "CREATE TABLE w (" + ", ".join(
        f"c{i} INTEGER" for i in range(1601)) + ");")
    proc = sqlite2pg("run", str(wide), "--to", pg_dsn)
    assert proc.returncode == 1 and "blocker" in proc.stderr
    # a source locked by a writer when the run starts (its plan was made before)
    plan_file = tmp_path / "plan.json"
    assert sqlite2pg("plan", str(small_db), "-o", str(plan_file)).returncode == 0
    writer = sqlite3.connect(small_db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        proc = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--plan", str(plan_file),
                         "--target-schema", "elsewhere")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    one_sentence(proc, 2, "locked")
    assert schemas(pg_dsn) == before
    assert sqlite2pg("status", "--to", pg_dsn).returncode == 0
    assert schemas(pg_dsn) == before  # status writes nothing either


# -- --resume always finishes ------------------------------------------------------------
def test_resume_after_a_kill_during_plan_starts_a_new_run(small_db: Path, pg_dsn: str) -> None:
    before = schemas(pg_dsn)
    kill_at("plan", "run", str(small_db), "--to", pg_dsn)
    assert schemas(pg_dsn) == before  # nothing recorded yet
    resumed = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "starting a new run" in resumed.stderr
    assert "equal" in resumed.stdout and "differs" not in resumed.stdout


def test_resume_after_a_kill_during_the_final_verify_verifies(small_db: Path,
                                                              pg_dsn: str) -> None:
    kill_at("verify", "run", str(small_db), "--to", pg_dsn)
    status = sqlite2pg("status", "--to", pg_dsn)
    assert "switched" in status.stdout and "--resume" in status.stdout, status.stdout
    assert f"sqlite2pg run {small_db.resolve()}" in status.stdout  # a pasteable command
    resumed = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "its final verify remains" in resumed.stderr
    lines = [ln for ln in resumed.stdout.splitlines() if ln.startswith(("items", "notes"))]
    assert len(lines) == 2 and all(ln.split()[-1] == "equal" for ln in lines), resumed.stdout
    assert "verified: every table equal" in sqlite2pg("status", "--to", pg_dsn).stdout
    again = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--resume")
    assert again.returncode == 2 and "already has" in again.stderr  # finished: a new run


def test_resume_keeps_the_runs_own_options(small_db: Path, pg_dsn: str) -> None:
    assert sqlite2pg("run", str(small_db), "--to", pg_dsn, "--target-schema", "app"
                     ).returncode == 0
    kill_at("post-data", "run", str(small_db), "--to", pg_dsn, "--target-schema", "app",
            "--if-exists", "replace")
    resumed = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--resume")  # no options
    assert resumed.returncode == 0, resumed.stderr
    assert "the tables it replaced are kept in schema sqlite2pg_old_" in resumed.stdout
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM app.items").fetchone() == (3,)


# -- errors named by what happened ------------------------------------------------------
def test_a_lock_timeout_is_named_and_the_run_resumes(small_db: Path, pg_dsn: str) -> None:
    assert sqlite2pg("run", str(small_db), "--to", pg_dsn).returncode == 0
    holder = psycopg.connect(pg_dsn)
    holder.execute("SELECT * FROM items")  # an application's open transaction on a table
    try:
        proc = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--if-exists", "replace",
                         "--lock-timeout", "300ms")
    finally:
        holder.rollback()
        holder.close()
    line = one_sentence(proc, 2, "lock_timeout (300ms)", "--resume")
    assert "--lock-timeout" in line
    assert any(s.startswith("sqlite2pg_staging_") for s in schemas(pg_dsn))  # work kept
    resumed = sqlite2pg("run", str(small_db), "--to", pg_dsn, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not any(s.startswith("sqlite2pg_staging_") for s in schemas(pg_dsn))


def test_a_statement_timeout_is_named_as_such(saas_db: Path, pg_dsn: str) -> None:
    proc = sqlite2pg("run", str(saas_db), "--to", pg_dsn, SQLITE2PG_STATEMENT_TIMEOUT="1ms")
    line = one_sentence(proc, 2, "statement_timeout")
    assert "interrupted" not in line and "Ctrl-C" not in line


def test_a_quoted_password_never_appears(small_db: Path, tmp_path: Path) -> None:
    dsn = r"host=127.0.0.1 port=1 user=bob password='it\'s a secret'"
    for args in (["run", str(small_db), "--to", dsn], ["verify", str(small_db), "--to", dsn],
                 ["status", "--to", dsn], ["clean", "--to", dsn],
                 ["run", str(small_db), "--to", dsn, "--resume"]):
        proc = sqlite2pg(*args)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2 and "cannot connect" in out, out
        assert "secret" not in out, out
    uri = "postgresql://bob:p%40ss-w0rd@127.0.0.1:1/db"
    proc = sqlite2pg("run", str(small_db), "--to", uri)
    assert "p%40ss" not in proc.stderr and "p@ss" not in proc.stderr
    with pytest.raises(TargetError) as caught:
        target.connect(dsn)
    assert "secret" not in str(caught.value)


# -- verify stands apart ------------------------------------------------------------------
def test_verify_shares_no_code_with_the_copier() -> None:
    code = ("import sys, transfer.verify; print(' '.join(sorted(m for m in sys.modules "
            "if m.startswith('transfer'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "transfer.verify" in loaded
    for other in ("transfer.copier", "transfer.copyread", "transfer.convert",
                  "transfer.profile", "transfer.plan", "transfer.pipeline"):
        assert other not in loaded


# -- the source's directory ----------------------------------------------------------------
def test_a_wal_source_directory_is_left_as_it_was(tmp_path: Path, pg_dsn: str) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    db = folder / "app.db"
    conn = sqlite3.connect(db)
    conn.executescript("PRAGMA journal_mode=WAL;" + SMALL)
    conn.close()
    before = sorted(p.name for p in folder.iterdir())
    assert before == ["app.db"]
    for args in (["plan", str(db)], ["run", str(db), "--to", pg_dsn],
                 ["verify", str(db), "--to", pg_dsn]):
        proc = sqlite2pg(*args)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in folder.iterdir()) == before, args
    # the application holding the database open: its files stay, and it goes on
    app = sqlite3.connect(db)
    app.execute("INSERT INTO notes VALUES (3, 3, 'c')")
    app.commit()
    assert sqlite2pg("plan", str(db)).returncode == 0
    assert {"app.db-wal", "app.db-shm"} <= {p.name for p in folder.iterdir()}
    app.execute("INSERT INTO notes VALUES (4, 3, 'd')")
    app.commit()
    assert app.execute("SELECT count(*) FROM notes").fetchone() == (4,)
    app.close()


def test_plan_file_storage_and_recorded_positions_are_checked(small_db: Path, tmp_path: Path,
                                                              victim: str) -> None:
    plan_file = tmp_path / "plan.json"
    assert sqlite2pg("plan", str(small_db), "-o", str(plan_file)).returncode == 0
    data = json.loads(plan_file.read_text())
    data["tables"][0]["columns"][1]["storage"] = {"text') OR (SELECT 1) --": 1}
    plan_file.write_text(json.dumps(data))
    one_sentence(sqlite2pg("run", str(small_db), "--to", victim, "--plan", str(plan_file)),
                 2, "storage counts")
    data["tables"][0]["columns"][2]["convert"] = "decimal(10,1)"  # numeric(10,2): would round
    data["tables"][0]["columns"][1]["storage"] = {"text": 3}
    plan_file.write_text(json.dumps(data))
    one_sentence(sqlite2pg("run", str(small_db), "--to", victim, "--plan", str(plan_file)),
                 2, "does not write numeric(10,2)")


def test_a_tampered_resume_position_is_refused() -> None:
    from transfer import copyread
    from transfer.model import ColumnPlan, TablePlan
    from transfer.state import TableProgress

    t = TablePlan("t", "t", [ColumnPlan("k", "k", "TEXT", "text", "", '"k"', "text")], 1,
                  rowid="rowid", tenant_order="k")
    assert "'a'" in copyread.table_query(t, TableProgress(1, 5, last_key="'a'"))
    with pytest.raises(TargetError, match="not an SQLite literal"):
        copyread.table_query(t, TableProgress(1, 5, last_key="1 OR 1=1"))
