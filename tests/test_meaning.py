"""PostgreSQL means what SQLite meant, on a real PostgreSQL: NOCASE uniqueness exactly as
SQLite's and NOCASE equality for the application; CHECKs carried by meaning (or listed);
Northwind-style views; every default form; a virtual table SQLite cannot read; decisions
said in run's output and report; a post-data failure keeps the copied rows and resumes with
a revised plan."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from compare import compare_all
from conftest import ROOT, build_db

from transfer import pipeline
from transfer.plan import build_plan


def quiet(_msg: str) -> None:
    pass


def fixture(name: str, tmp_path: Path, folder: str = "edge") -> Path:
    return build_db(tmp_path / f"{name}.db", (ROOT / "schemas" / folder / f"{name}.sql")
                    .read_text())


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300, env=os.environ)


def accepted_sqlite(db: Path, statement: str, *values: object) -> bool:
    conn = sqlite3.connect(db)
    try:
        conn.execute(statement, values)
        return True
    except sqlite3.IntegrityError:
        return False
    finally:
        conn.rollback()
        conn.close()


def accepted_pg(dsn: str, statement: str, *values: object) -> bool:
    with psycopg.connect(dsn) as conn:
        try:
            conn.execute(statement.replace("?", "%s"), values)  # type: ignore[arg-type]
            return True
        except psycopg.errors.IntegrityError:
            return False
        finally:
            conn.rollback()


def test_nocase_uniqueness_is_sqlites_and_equality_ignores_case(tmp_path: Path,
                                                                pg_dsn: str) -> None:
    db = fixture("nocase", tmp_path)
    plan = build_plan(db)
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert result.verified is not None and result.verified.equal
    assert compare_all(db, pg_dsn, plan) == []
    # new rows: refused or taken exactly as SQLite refuses or takes them
    for statement, value in [("INSERT INTO fruits (name) VALUES (?)", "PEAR"),
                             ("INSERT INTO fruits (name) VALUES (?)", "ÄPFEL"),
                             ("INSERT INTO fruits (name) VALUES (?)", "äPFEL"),
                             ("INSERT INTO fruits (name) VALUES (?)", "ÄPFEL!"),
                             ("INSERT INTO fruits (name) VALUES (?)", "Plum"),
                             ("INSERT INTO roles (code) VALUES (?)", "ADMIN"),
                             ("INSERT INTO roles (code) VALUES (?)", "guest"),
                             ("INSERT INTO roles (code, title) VALUES ('x', ?)", "PLAIN USER")]:
        assert accepted_sqlite(db, statement, value) == accepted_pg(pg_dsn, statement, value), \
            (statement, value)
    with psycopg.connect(pg_dsn) as conn:  # the application's lookups find what SQLite's do
        found = conn.execute("SELECT id FROM people WHERE role = 'ADMINISTRATOR'").fetchall()
        liked = conn.execute("SELECT id FROM people WHERE nick LIKE 'ALI%'").fetchall()
        title = conn.execute("SELECT code FROM roles WHERE title = 'administrator'").fetchall()
    src = sqlite3.connect(db)
    assert found == src.execute("SELECT id FROM people WHERE role = 'ADMINISTRATOR'"
                                ).fetchall() == [(1,)]
    assert liked == src.execute("SELECT id FROM people WHERE nick LIKE 'ALI%'").fetchall()
    assert title == [("admin",)]
    notes = {(n.table, n.column): n for n in plan.warnings}
    assert "citext also folds non-ASCII letters" in notes[("people", "role")].message
    # (said from the data: which values citext would fold where SQLite's NOCASE does not)
    assert "none of its values holds one" in notes[("people", "role")].message
    assert "1 of its values holds such a letter" in notes[("people", "nick")].message
    assert notes[("people", "nick")].rows == ["id=3"]
    assert notes[("fruits", "name")].rows == ["id=1", "id=2"]


@pytest.mark.parametrize("mixed", [False, True])
def test_nocase_letters_citext_folds_are_counted(tmp_path: Path, mixed: bool) -> None:
    """The values citext would fold where NOCASE does not: letters beyond ASCII with a
    case, not any character beyond ASCII (€, 中, a tab), by the profile's Arrow path and by
    its SQL path (a table with a column of mixed storage classes) alike."""
    db = tmp_path / "nocase.db"
    b = "x'00'" if mixed else "'x'"
    with sqlite3.connect(db) as conn:
        conn.executescript("CREATE TABLE m (id INTEGER PRIMARY KEY, b, n TEXT COLLATE NOCASE);"
                           f"INSERT INTO m VALUES (1, 'x', 'Été'), (2, {b}, 'abc'), "
                           "(3, 'y', 'ÉTÉ'), (4, 'z', 'tab\there'), (5, 'w', '€ 5 中'), "
                           "(6, 'v', 'straße');")
    notes = {(n.table, n.column): n for n in build_plan(db).warnings}
    assert "3 of its values hold such a letter" in notes[("m", "n")].message
    assert notes[("m", "n")].rows == ["id=1", "id=3", "id=6"]
    sampled = {(n.table, n.column): n for n in build_plan(db, sample=2).warnings}
    assert "1 of its values of the 2 rows profiled holds such a letter" in \
        sampled[("m", "n")].message


def test_checks_carry_sqlites_meaning_or_are_listed(tmp_path: Path, pg_dsn: str) -> None:
    db = fixture("checks", tmp_path)
    plan = build_plan(db)
    not_carried = " ".join(str(n) for n in plan.not_carried)
    assert "typeof(strict_int)" in not_carried
    assert any("NOT VALID" in n.message and n.rows == ["id=3"] for n in plan.warnings)
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert result.verified is not None and result.verified.equal
    # (strict_int given: its CHECK is SQLite's only)
    insert = ("INSERT INTO codes (id, code, n, flag, kind, price, strict_int) "
              "VALUES (?, ?, ?, ?, ?, ?, 1)")
    for row in [(10, "ABz", 1, "0", "a", 1), (11, "xyz", 1, "0", "a", 1),
                (12, "abc", 2, "0", "a", 1), (13, "abc", None, "2", "a", 1),
                (14, "abc", None, "1", "Q", 1), (15, "abc", None, "1", "q", -1),
                (16, "aB%", None, "1", "q", 0)]:
        assert accepted_sqlite(db, insert, *row) == accepted_pg(pg_dsn, insert, *row), row


def test_northwind_style_views_migrate_with_sqlites_results(tmp_path: Path,
                                                            pg_dsn: str) -> None:
    db = fixture("northwind_views", tmp_path)
    plan = build_plan(db)
    carried = {v.name for v in plan.views}
    assert {"Alphabetical list of products", "Current Product List", "Discontinued Products",
            "Products by Category", "Current Names"} <= carried
    assert "Shouted Names" not in carried
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert result.verified is not None and result.verified.equal
    src = sqlite3.connect(db)
    with psycopg.connect(pg_dsn) as conn:
        for v in plan.views:
            q = '"' + v.name + '"'
            pg_rows = sorted(conn.execute(f"SELECT * FROM {q}").fetchall(), key=repr)
            sq_rows = sorted(src.execute(f"SELECT * FROM {q}").fetchall(), key=repr)
            assert [tuple(map(str, r)) for r in pg_rows] == \
                [tuple(map(str, r)) for r in sq_rows], v.name


def test_every_default_form(tmp_path: Path, pg_dsn: str) -> None:
    db = fixture("defaults", tmp_path)
    plan = build_plan(db)
    (token,) = [n for n in plan.warnings if n.kind == "default"]
    assert token.column == "token" and "NOT NULL" in token.message
    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    src = sqlite3.connect(db)
    src.execute("INSERT INTO authors (id, name, token) VALUES (100, 'new', 't')")
    columns = [c.name for c in plan.tables[0].columns if c.name not in ("id", "name", "token")]
    want = dict(zip(columns, src.execute(f"SELECT {', '.join(columns)} FROM authors WHERE "
                                         "id = 100").fetchone(), strict=True))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO authors (id, name, token) VALUES (100, 'new', 't')")
        got = dict(zip(columns, conn.execute(f"SELECT {', '.join(columns)} FROM authors WHERE "
                                             "id = 100").fetchone(), strict=True))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert got["bio"] == want["bio"] == ""
    assert got["prefs"] == json.loads(want["prefs"]) == {}
    for name, shape in (("created_iso", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"),
                        ("created_text", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
                        ("at_time", r"\d\d:\d\d:\d\d")):
        assert re.fullmatch(shape, got[name]) and re.fullmatch(shape, want[name]), name
    assert abs(got["created_at"] - now) < dt.timedelta(minutes=5)
    assert got["created_at"].microsecond == 0  # SQLite's precision: whole seconds
    assert got["born"] == dt.date.fromisoformat(want["born"])
    assert abs(got["stamp"] - want["stamp"]) < 300
    for name in ("score", "ranking", "code", "digits", "data"):
        assert got[name] == want[name], name
    assert got["active"] is True and want["active"] == 1


def test_a_virtual_table_sqlite_cannot_read_is_a_blocker_exclude_skips(tmp_path: Path,
                                                                       pg_dsn: str) -> None:
    db = fixture("dangling_fts4", tmp_path, "blocked")
    proc = sqlite2pg("plan", str(db))
    assert proc.returncode == 1
    assert "search: virtual table (fts4) that SQLite itself cannot read" in proc.stdout
    refused = sqlite2pg("run", str(db), "--to", pg_dsn)
    assert refused.returncode == 1 and "search" in refused.stderr
    proc = sqlite2pg("run", str(db), "--to", pg_dsn, "--exclude", "search")
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM docs").fetchone() == (2,)


def test_run_says_every_decision_and_reports_them(tmp_path: Path, pg_dsn: str) -> None:
    db = build_db(tmp_path / "mixed.db", "\n".join(
        (ROOT / "schemas" / "edge" / f"{n}.sql").read_text()
        for n in ("keys", "checks", "time_mixed")))
    report = tmp_path / "report.json"
    proc = sqlite2pg("run", str(db), "--to", pg_dsn, "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr
    expected = {
        "key": ("legacy", None, "primary key (k) holds NULL"),
        "type": ("happenings", "small", "not clearly epoch seconds"),
        "value": ("happenings", "epoch_s", "holds epoch seconds"),
        "not carried": ("codes", None, "CHECK (typeof(strict_int) = 'integer') is not carried"),
        "check": ("codes", None, "added NOT VALID"),
    }
    decisions = json.loads(report.read_text())["decisions"]
    for kind, (table, column, words) in expected.items():
        assert re.search(rf"{re.escape(kind)}\s+{re.escape(table)}.*{re.escape(words)}", said), \
            kind
        assert any(d["kind"] == kind and d["table"] == table and d["column"] == column
                   and words in d["reason"] for d in decisions), kind
    assert [d["rows"] for d in decisions if d["kind"] == "check"] == [["id=3"]]


def test_a_post_data_failure_keeps_the_rows_and_resumes_with_a_revised_plan(
        saas_db: Path, tmp_path: Path, pg_dsn: str) -> None:
    plan_file = tmp_path / "plan.json"
    assert sqlite2pg("plan", str(saas_db), "-o", str(plan_file)).returncode == 0
    data = json.loads(plan_file.read_text())
    logs = next(t for t in data["tables"] if t["name"] == "api_logs")
    index = next(ix for ix in logs["indexes"] if ix["name"] == "api_logs_user")
    index["unique"] = True  # an edit the data contradicts: many logs per user
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    failed = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--plan", str(broken))
    assert failed.returncode == 2, failed.stderr
    assert "post-data failed on table 'api_logs'" in failed.stderr
    assert "is duplicated" in failed.stderr and "--resume --plan" in failed.stderr
    with psycopg.connect(pg_dsn) as conn:
        staged = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE "
                              "'sqlite2pg_staging_%'").fetchall()
        assert len(staged) == 1
        kept = conn.execute(f'SELECT count(*) FROM "{staged[0][0]}".api_logs').fetchone()
    assert kept == (8000,)  # the copied rows are kept
    changed = json.loads(json.dumps(data))
    next(t for t in changed["tables"] if t["name"] == "api_logs")["columns"][1]["pg_type"] = \
        "text"
    (tmp_path / "types.json").write_text(json.dumps(changed))
    refused = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--resume", "--plan",
                        str(tmp_path / "types.json"))
    assert refused.returncode == 2 and "changes tables, columns or their types" in \
        refused.stderr
    report = tmp_path / "report.json"
    resumed = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--resume", "--plan",
                        str(plan_file), "--report", str(report))
    assert resumed.returncode == 0, resumed.stderr
    tables = {t["table"]: t for t in json.loads(report.read_text())["tables"]}
    assert tables["api_logs"]["rows_read"] == 0 and tables["api_logs"]["verified"] == "equal"


@pytest.mark.parametrize("nocase", ["citext", "text"])
def test_nocase_columns_as_chosen(tmp_path: Path, pg_dsn: str, nocase: str) -> None:
    db = fixture("nocase", tmp_path)
    plan = build_plan(db, nocase=nocase)
    types = {c.name: c.pg_type for c in plan.table("people").columns}
    assert types["role"] == ("citext" if nocase == "citext" else "text")
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn, target_schema="app"),
                          quiet)
    assert result.verified is not None and result.verified.equal
    with psycopg.connect(pg_dsn) as conn:
        where = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON "
                             "n.oid = e.extnamespace WHERE extname = 'citext'").fetchall()
    assert where == ([("app",)] if nocase == "citext" else [])


def test_a_cast_of_numbers_written_as_text_is_tried_as_run_converts(tmp_path: Path,
                                                                     pg_dsn: str) -> None:
    db = build_db(tmp_path / "flags.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, flag TEXT, "
                  "amount TEXT, mixed); INSERT INTO t VALUES (1, '0', '1.5', 1), "
                  "(2, '1', '-2', '2'), (3, '1', '1e3', 3);")
    casts = {"t.flag": "integer", "t.amount": "double precision", "t.mixed": "bigint"}
    plan = build_plan(db, casts=dict(casts))
    assert plan.blockers == []
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert result.verified is not None and result.verified.equal
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT flag, amount, mixed FROM t ORDER BY id").fetchall() == [
            (0, 1.5, 1), (1, -2.0, 2), (1, 1000.0, 3)]
    assert build_plan(db, casts={"t.flag": "boolean"}).blockers == []
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO t VALUES (4, '12abc', 'abc', 4.5)")
    blocked = build_plan(db, casts=dict(casts)).blockers
    assert sorted((b.column, b.rows) for b in blocked) == [
        ("amount", ["id=4"]), ("flag", ["id=4"]), ("mixed", ["id=4"])]


def test_defaults_constraints_and_casts_found_in_review(tmp_path: Path, pg_dsn: str) -> None:
    deep = " OR ".join(f"n = {i}" for i in range(600))
    db = build_db(tmp_path / "review.db", f"""
        CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER DEFAULT '0' CHECK ({deep}),
                        words TEXT DEFAULT 1e20, name TEXT COLLATE NOCASE,
                        amount REAL, UNIQUE (name COLLATE BINARY));
        INSERT INTO t (id, n, name, amount) VALUES (1, 0, 'a', 1.5), (2, 1, 'A', 2.0);""")
    plan = build_plan(db)
    assert any("nested too deeply" in n.message for n in plan.not_carried)
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert result.verified is not None and result.verified.equal
    src = sqlite3.connect(db)
    src.execute("INSERT INTO t (id) VALUES (3)")
    want = src.execute("SELECT n, words FROM t WHERE id = 3").fetchone()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO t (id) VALUES (3)")
        assert conn.execute("SELECT n, words FROM t WHERE id = 3").fetchone() == want
    assert accepted_pg(pg_dsn, "INSERT INTO t (id, name) VALUES (9, ?)", "a") is False
    assert accepted_pg(pg_dsn, "INSERT INTO t (id, name) VALUES (9, ?)", "b") is True
    blocked = build_plan(db, casts={"t.amount": "bigint"}).blockers
    assert [(b.column, b.rows) for b in blocked] == [("amount", ["id=1", "id=2"])]
