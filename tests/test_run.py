"""sqlite2pg run against a real PostgreSQL: every cell compared by reading both sides,
conflicts refused, failures leaving the target untouched, the partial-run options."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from compare import compare_all
from conftest import ROOT, build_db, edge_schemas, schemas
from paused import kill_at
from psycopg import sql

from transfer import pipeline
from transfer.errors import BlockersFound, ConflictError, DataError
from transfer.plan import build_plan
from transfer.source import snapshot_identity


def quiet(_msg: str) -> None:
    pass


def tables_in(dsn: str, schema: str = "public") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                            (schema,)).fetchall()
    return {r[0] for r in rows}


def test_saas_every_cell_arrives(saas_db: Path, pg_dsn: str) -> None:
    plan = build_plan(saas_db)
    result = pipeline.run(saas_db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert sum(r.rows for r in result.tables) == sum(t.rows for t in plan.tables) > 9000
    assert compare_all(saas_db, pg_dsn, plan) == []
    with psycopg.connect(pg_dsn) as conn:
        # keys, indexes and FKs exist; identities continue past max(id) and sqlite_sequence
        n_fk = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                            "connamespace = 'public'::regnamespace").fetchone()
        assert n_fk is not None and n_fk[0] == 10
        nxt = conn.execute("INSERT INTO tenants (name, slug) VALUES ('n', 'n') RETURNING id")
        row = nxt.fetchone()
        src = sqlite3.connect(saas_db).execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'tenants'").fetchone()
        assert row is not None and row[0] == src[0] + 1
        notnull = conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                               "'users'::regclass AND attname = 'email'").fetchone()
        assert notnull == (True,)
        real = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                            "attrelid = 'subscriptions'::regclass AND attname = 'price'")
        assert real.fetchone() == ("double precision",)
    assert "sqlite2pg_staging" not in " ".join(schemas(pg_dsn))


@pytest.mark.parametrize("schema", [p.stem for p in edge_schemas()])
def test_edge_case_every_cell_arrives(schema: str, tmp_path: Path, pg_dsn: str) -> None:
    db = build_db(tmp_path / f"{schema}.db",
                  (ROOT / "schemas" / "edge" / f"{schema}.sql").read_text())
    plan = build_plan(db)
    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert compare_all(db, pg_dsn, plan) == []


def test_conflicting_tables_are_refused_naming_them(saas_db: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE users (keep int)")
        conn.execute("INSERT INTO users VALUES (42)")
    with pytest.raises(ConflictError, match="users"):
        pipeline.run(saas_db, build_plan(saas_db), pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert tables_in(pg_dsn) == {"users"}
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT keep FROM users").fetchall() == [(42,)]


def test_replace_keeps_the_old_tables_aside(saas_db: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE users (keep int)")
    result = pipeline.run(saas_db, build_plan(saas_db),
                          pipeline.RunOptions(dsn=pg_dsn, if_exists="replace"), quiet)
    assert result.backup_schema is not None
    assert tables_in(pg_dsn, result.backup_schema) == {"users"}
    assert "api_logs" in tables_in(pg_dsn)


def test_failure_leaves_the_target_untouched(tmp_path: Path, pg_dsn: str) -> None:
    db = build_db(tmp_path / "bad.db", "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);"
                                       "INSERT INTO a VALUES (1, 1), (2, 2);"
                                       "CREATE TABLE b (id INTEGER PRIMARY KEY, n INT);"
                                       "INSERT INTO b VALUES (1, 5);")
    plan = build_plan(db)
    with sqlite3.connect(db) as conn:  # the data changes after planning: n no longer fits int
        conn.execute("INSERT INTO b VALUES (2, 99999999999)")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE existing (x int)")
    with pytest.raises(DataError, match=r"table 'b', column 'n'"):
        pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert tables_in(pg_dsn) == {"existing"}
    assert not [s for s in schemas(pg_dsn) if s.startswith("sqlite2pg_")]


def test_blockers_stop_the_run(tmp_path: Path, pg_dsn: str) -> None:
    cols = ", ".join(f"c{i} INTEGER" for i in range(1601))
    db = build_db(tmp_path / "wide.db", f"CREATE TABLE wide_one (id INTEGER PRIMARY KEY, {cols});")
    with pytest.raises(BlockersFound, match="wide_one"):
        pipeline.run(db, build_plan(db), pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert tables_in(pg_dsn) == set()


def test_schema_only_include_and_data_only(saas_db: Path, pg_dsn: str) -> None:
    plan = build_plan(saas_db)
    pipeline.run(saas_db, plan, pipeline.RunOptions(dsn=pg_dsn, schema_only=True,
                                                    include=["tenants", "users"]), quiet)
    assert tables_in(pg_dsn) == {"tenants", "users"}
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
        conn.execute("ALTER TABLE users DROP CONSTRAINT users_tenant_id_fkey")
    pipeline.run(saas_db, build_plan(saas_db),
                 pipeline.RunOptions(dsn=pg_dsn, data_only=True, include=["users"]), quiet)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (200,)
        assert conn.execute("SELECT count(*) FROM tenants").fetchone() == (0,)


def test_reviewed_plan_file_is_executed_as_saved(saas_db: Path, tmp_path: Path,
                                                 pg_dsn: str) -> None:
    from transfer.model import load_plan, save_plan

    plan_file = tmp_path / "plan.json"
    save_plan(build_plan(saas_db), plan_file)
    edited = plan_file.read_text().replace('"pg_type": "varchar(255)"', '"pg_type": "text"')
    plan_file.write_text(edited)
    plan = load_plan(plan_file)
    pipeline.run(saas_db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    with psycopg.connect(pg_dsn) as conn:
        typ = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                           "attrelid = 'users'::regclass AND attname = 'email'").fetchone()
    assert typ == ("text",)
    assert compare_all(saas_db, pg_dsn, plan) == []


def test_reject_mode_sets_rows_aside_and_stop_mode_names_them(tmp_path: Path,
                                                              pg_dsn: str) -> None:
    """Rows written after the plan was made that the plan's types cannot hold: one refused
    by the conversion (an impossible date), one by PostgreSQL (too long for varchar(5))."""
    import json
    import subprocess
    import sys

    from transfer.model import save_plan

    rows = ", ".join(f"({i}, '2024-01-01 00:00:{i % 60:02d}', 'c{i}')" for i in range(1, 101))
    db = build_db(tmp_path / "later.db", "CREATE TABLE ev (id INTEGER PRIMARY KEY, "
                  f"at DATETIME, code VARCHAR(5)); INSERT INTO ev VALUES {rows};")
    plan_file = tmp_path / "plan.json"
    save_plan(build_plan(db), plan_file)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO ev VALUES (101, '2024-02-30 00:00:00', 'ok'), "
                     "(102, '2024-01-02 00:00:00', 'toolong')")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "transfer", "run", str(db), "--to",
                               pg_dsn, "--plan", str(plan_file), *extra],
                              capture_output=True, text=True, timeout=120)

    stopped = run()
    assert stopped.returncode == 2 and "Traceback" not in stopped.stderr
    assert "table 'ev', column 'at'" in stopped.stderr and "id=101" in stopped.stderr
    assert tables_in(pg_dsn) == set()  # the target is as it was

    rejected = run("--on-error", "reject", "--reject-dir", str(tmp_path / "rejects"))
    assert rejected.returncode == 1, rejected.stderr  # verify reports the two rows missing
    assert "2 rows could not be carried over" in rejected.stdout
    lines = [json.loads(line) for f in (tmp_path / "rejects").rglob("*.rejects.jsonl")
             for line in f.read_text().splitlines()]
    by_key = {r["key"]: r for r in lines}
    assert set(by_key) == {"id=101", "id=102"}
    assert by_key["id=101"]["column"] == "at"
    assert by_key["id=101"]["values"] == {"id": 101, "at": "2024-02-30 00:00:00", "code": "ok"}
    assert by_key["id=101"]["literals"] == {"id": "101", "at": "'2024-02-30 00:00:00'",
                                            "code": "'ok'"}
    assert "PostgreSQL rejected it" in by_key["id=102"]["reason"]
    assert by_key["id=102"]["literals"]["code"] == "'toolong'"
    assert "row id=101 is missing in PostgreSQL" in rejected.stdout
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM ev").fetchone() == (100,)

    # Interrupted after its rows were set aside, the resumed run (its own reject directory)
    # still counts them.
    kill_at("post-data", "run", str(db), "--to", pg_dsn, "--plan", str(plan_file),
            "--target-schema", "again", "--on-error", "reject", "--reject-dir",
            str(tmp_path / "more"))
    report = tmp_path / "resumed.json"
    resumed = subprocess.run([sys.executable, "-m", "transfer", "run", str(db), "--to", pg_dsn,
                              "--resume", "--report", str(report)],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 1, resumed.stderr
    assert "2 rows could not be carried over and were set aside in " + str(tmp_path / "more") \
        in resumed.stdout
    assert json.loads(report.read_text())["totals"]["rejected"] == 2


def test_live_writer_wal_snapshot_copied_and_verified(saas_db: Path, tmp_path: Path,
                                                      pg_dsn: str) -> None:
    """The application (another process) keeps writing in WAL mode during the run: one
    consistent snapshot is copied, and the final verify compares that very snapshot."""
    import subprocess
    import sys
    import time

    db = tmp_path / "live.db"
    db.write_bytes(saas_db.read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    writer = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, sys, time
conn = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=10)
while True:
    conn.execute("INSERT INTO api_logs (tenant_id, user_id, method, path, status_code, "
                 "duration_ms, request_id, meta, created_at) SELECT tenant_id, user_id, "
                 "method, path, status_code, duration_ms, request_id, meta, created_at "
                 "FROM api_logs WHERE id = 1")
    print("w", flush=True)
    time.sleep(0.002)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        for _ in range(20):
            writer.stdout.readline()  # the application is writing
        plan = build_plan(db)
        result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
        time.sleep(0.05)
    finally:
        writer.kill()
        writer.wait()
    assert result.verified is not None and result.verified.equal
    with psycopg.connect(pg_dsn) as pg:
        copied = pg.execute("SELECT count(*) FROM api_logs").fetchone()
    now = sqlite3.connect(db).execute("SELECT count(*) FROM api_logs").fetchone()
    assert copied is not None and now is not None and 8000 < copied[0] < now[0]


def test_tenant_order_groups_each_tenant_and_resumes_after_any_row(tmp_path: Path,
                                                                   pg_dsn: str) -> None:
    """schemas/edge/tenant_order.sql: NULL, NOCASE and mixed-class tenant keys."""
    import contextlib

    from transfer import copyread, reader
    from transfer.state import TableProgress

    db = build_db(tmp_path / "t.db", (ROOT / "schemas" / "edge" / "tenant_order.sql").read_text())
    plan = build_plan(db)
    ordered = {t.name: t for t in plan.tables if t.tenant_order}
    assert sorted(ordered) == ["events", "members", "notes"]  # not tags: WITHOUT ROWID

    def read(t: object, after: TableProgress | None = None) -> list[tuple[str, int]]:
        with contextlib.closing(reader.connect(db)) as conn:
            return [(k, r) for b in reader.batches(conn, copyread.table_query(t, after), 4)
                    for k, r in zip(b.column(b.num_columns - 2).to_pylist(),
                                    b.column(b.num_columns - 1).to_pylist(), strict=True)]

    for t in ordered.values():
        full = read(t)
        assert sorted(r for _k, r in full) == list(range(1, t.rows + 1))
        for i, (key, rowid) in enumerate(full):  # a resume after any row reads the rest
            assert read(t, TableProgress(i + 1, rowid, last_key=key)) == full[i + 1:], (t, i)

    pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    expected = {"members": [3, 7, 2, 6, 10, 1, 5, 8, 4, 9],  # NULL first, then by key
                "notes": [4, 2, 3, 7, 1, 5, 6],  # 'ACME', 'acme', 'Acme' are one tenant
                "events": [5, 3, 8, 4, 10, 1, 6, 7, 2, 9]}  # numbers, then texts
    with psycopg.connect(pg_dsn) as conn:
        for name, ids in expected.items():
            rows = conn.execute(sql.SQL("SELECT id FROM {} ORDER BY ctid").format(
                sql.Identifier(name))).fetchall()
            assert [r[0] for r in rows] == ids, name
    assert compare_all(db, pg_dsn, plan) == []


def test_saas_tenant_rows_land_together_unless_source_order(saas_db: Path,
                                                            pg_dsn: str) -> None:
    def correlation(schema: str) -> float:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ANALYZE {}.api_logs").format(sql.Identifier(schema)))
            row = conn.execute("SELECT correlation FROM pg_stats WHERE schemaname = %s AND "
                               "tablename = 'api_logs' AND attname = 'tenant_id'",
                               (schema,)).fetchone()
        assert row is not None
        return float(row[0])

    plan = build_plan(saas_db)
    pipeline.run(saas_db, plan.ordered("source"),
                 pipeline.RunOptions(dsn=pg_dsn, target_schema="by_rowid", verify=False), quiet)
    pipeline.run(saas_db, plan, pipeline.RunOptions(dsn=pg_dsn, target_schema="by_tenant"),
                 quiet)
    assert abs(correlation("by_rowid")) < 0.3  # the fixture's tenants write interleaved
    assert correlation("by_tenant") > 0.99


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_the_copy_snapshot_begins_when_opened(tmp_path: Path, journal: str) -> None:
    """reader.open_snapshot: a commit by another process after it is not seen (the
    copier's source identity, read right after it, must describe what it reads)."""
    import subprocess
    import sys

    from transfer import reader

    db = tmp_path / "s.db"
    with sqlite3.connect(db) as w:
        w.execute(f"PRAGMA journal_mode = {journal}")
        w.execute("CREATE TABLE t (x)")
        w.execute("INSERT INTO t VALUES (1)")
    conn = reader.connect(db)
    try:
        reader.open_snapshot(conn)
        write = subprocess.run([sys.executable, "-c", "import sqlite3, sys; w = sqlite3.connect("
                                "sys.argv[1], timeout=0.2); w.execute('INSERT INTO t VALUES (2)');"
                                " w.commit()", str(db)], capture_output=True, text=True)
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchall() == [(1,)]
        cur.close()
        # WAL: the writer committed, unseen; rollback journal: the read lock held it off
        assert (write.returncode == 0) == (journal == "wal"), write.stderr
    finally:
        conn.close()


@pytest.mark.parametrize("when", ["between the streams", "while the first opens"])
def test_copy_streams_share_one_snapshot_or_one_reads_all(saas_db: Path, tmp_path: Path,
                                                          pg_dsn: str, when: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit lands after the first copy stream's snapshot opened, before the second
    one's (or before the first read its own identity): the second must not take part (it
    would read the newer rows)."""
    import subprocess
    import sys
    import threading

    from transfer import copier, reader

    db = tmp_path / "live.db"
    db.write_bytes(saas_db.read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        before = conn.execute("SELECT count(*) FROM tenants").fetchone()[0]

    def commit() -> None:
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect("
                        "sys.argv[1]); c.execute(\"INSERT INTO tenants (name, slug) "
                        "VALUES ('late', 'late')\"); c.commit()", str(db)], check=True)

    class CommitBetween(copier.Copier):
        """The first stream waits for the second to finish (or to stand aside) before
        taking a table, so that the second would read them all; the commits land through
        the copier's seams (its streams' snapshots, their choice of a table)."""
        second_done = threading.Event()

        def _read_stream(self, k: int) -> None:
            if k != 1:
                return super()._read_stream(k)
            self.opened.wait()
            if when == "between the streams":
                commit()
            try:
                super()._read_stream(k)
            finally:
                self.second_done.set()

        def _pin(self, k: int, conn: object) -> dict[str, object] | None:
            if k == 0 and when == "while the first opens":
                # (the other streams wait for this one's snapshot before opening theirs)
                with monkeypatch.context() as m:
                    m.setattr(reader, "open_snapshot", open_then_commit)
                    return super()._pin(k, conn)
            return super()._pin(k, conn)

        def _next_table(self, k: int) -> copier.TablePlan | None:
            if k == 0:
                self.second_done.wait(timeout=60)
            return super()._next_table(k)

    opened = reader.open_snapshot

    def open_then_commit(conn: object) -> None:
        opened(conn)  # type: ignore[arg-type]
        commit()

    monkeypatch.setattr(copier, "Copier", CommitBetween)
    result = pipeline.run(db, build_plan(db), pipeline.RunOptions(dsn=pg_dsn, jobs=4), quiet)
    assert pipeline.copy_streams(4) == 2
    with psycopg.connect(pg_dsn) as pg:
        assert pg.execute("SELECT count(*) FROM tenants").fetchone() == (before,)
    assert result.verified is not None and result.verified.equal
    assert sum(r.rows for r in result.tables) == sum(t.rows for t in result.plan.tables)


def test_a_cast_type_is_checked_in_full_even_on_the_profiled_snapshot(tmp_path: Path,
                                                                        pg_dsn: str) -> None:
    """--cast dup_doc=jsonb: the profile did not choose jsonb for it, so the copy must not
    skip the duplicate-key search it skips for columns the profile cleared (jsonb would
    keep only the last key, silently)."""
    db = build_db(tmp_path / "tjb.db",
                  (ROOT / "schemas" / "edge" / "time_json_bool.sql").read_text())
    plan = build_plan(db, casts={"events.dup_doc": "jsonb"})
    assert plan.table("events").column("dup_doc").pg_type == "jsonb"
    assert [(b.table, b.column) for b in plan.blockers] == [("events", "dup_doc")]
    plan.blockers = []  # (run refuses a plan with blockers: check the copy itself)
    with pytest.raises(DataError, match=r"dup_doc.*duplicate keys"):
        pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert tables_in(pg_dsn) == set()


def test_an_edited_plan_file_type_is_checked_in_full(tmp_path: Path, pg_dsn: str) -> None:
    """A plan file edited to jsonb for a column the profile kept as json (duplicate keys):
    the copy checks every value of it (it checks in full what the profile did not clear)."""
    import json

    from transfer.model import load_plan, save_plan

    db = build_db(tmp_path / "tjb.db",
                  (ROOT / "schemas" / "edge" / "time_json_bool.sql").read_text())
    plan_file = tmp_path / "plan.json"
    save_plan(build_plan(db), plan_file)
    data = json.loads(plan_file.read_text())
    for t in data["tables"]:
        for c in t["columns"]:
            if c["name"] == "dup_doc":
                assert (c["pg_type"], c["convert"]) == ("json", "text")
                c["pg_type"], c["convert"] = "jsonb", "jsonb"
    plan_file.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"dup_doc.*duplicate keys"):
        pipeline.run(db, load_plan(plan_file), pipeline.RunOptions(dsn=pg_dsn), quiet)


def test_plan_predicts_the_values_a_cast_cannot_carry(tmp_path: Path) -> None:
    """The profile tries each --cast type on its column, so plan names what run would stop
    on (schemas/edge/time_json_bool.sql): a blocker with example rows for each cast some
    value cannot take, none for the casts every value takes."""
    db = build_db(tmp_path / "tjb.db",
                  (ROOT / "schemas" / "edge" / "time_json_bool.sql").read_text())
    casts = {"events.not_json": "jsonb", "events.dup_doc": "jsonb", "events.nul_doc": "json",
             "events.word_flag": "timestamp", "events.bad_date": "timestamp",
             "events.naive": "timestamp", "events.zoned": "timestamptz", "events.day": "date",
             "events.doc": "jsonb", "events.flag": "boolean"}
    plan = build_plan(db, casts=casts)
    blocked = sorted(b.column or "" for b in plan.blockers)
    assert blocked == ["bad_date", "dup_doc", "not_json", "word_flag"], plan.blockers
    assert all(b.rows for b in plan.blockers)  # each with an example row


def test_values_written_after_the_plan_in_another_storage_class(tmp_path: Path,
                                                                pg_dsn: str) -> None:
    """The plan (a reviewed file) read integers in n, texts in v, reals in w, numbers in x
    (read as CAST(x AS REAL)) and d (numeric(6,2)); then the application wrote text into n,
    a real into v, an integer beyond 2^53 into w, text into x and 0.125 into d. The driver
    refuses the first; the others would arrive changed, silently (the driver's text, a
    rounded double, CAST('abc' AS REAL) = 0, 0.13). Stop names the row; reject sets the
    rows aside (read again fully guarded from the last batch sent) and the final verify
    reports them."""
    import json

    from transfer.model import load_plan, save_plan

    db = build_db(tmp_path / "live.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, v,"
                  " w, x, d NUMERIC(6,2)); INSERT INTO t VALUES (1, 10, 'a', 1.5, 1, 1.25), "
                  "(2, 20, 'b', 2.5, 2.5, 2), (3, NULL, NULL, NULL, NULL, NULL);")
    plan_file = tmp_path / "plan.json"
    save_plan(build_plan(db), plan_file)
    assert load_plan(plan_file).table("t").column("x").select.startswith("CAST(")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO t VALUES (4, 'forty', 'd', 4.5, 4, 4), "
                     "(5, 50, 0.1 + 0.2, 5.5, 5, 5), (6, 60, 'f', 1152921504606846977, 6, 6), "
                     "(7, 70, 'g', 7, 'seven', 7), (8, 80, 'h', 8.5, 8, 0.125), "
                     "(9, 90, 'i', 9, 9, 9.5)")
    with pytest.raises(DataError, match=r"column 'n'.*id=4.*'forty'.*holds a text value"):
        pipeline.run(db, load_plan(plan_file), pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert tables_in(pg_dsn) == set()

    result = pipeline.run(db, load_plan(plan_file), pipeline.RunOptions(
        dsn=pg_dsn, reject_dir=tmp_path / "rej", batch_rows=2), quiet)
    lines = [json.loads(x) for f in (tmp_path / "rej").glob("*/*.jsonl")
             for x in f.read_text().splitlines()]
    assert sorted((x["key"], x["column"], x["literals"][x["column"]]) for x in lines) == [
        ("id=4", "n", "'forty'"), ("id=5", "v", "0.30000000000000004"),
        ("id=6", "w", "1152921504606846977"), ("id=7", "x", "'seven'"), ("id=8", "d", "0.125")]
    assert all(set(x["literals"]) == {"id", "n", "v", "w", "x", "d"} for x in lines)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, n, v, w, x, d::text FROM t ORDER BY id").fetchall() == [
            (1, 10, "a", 1.5, 1.0, "1.25"), (2, 20, "b", 2.5, 2.5, "2.00"),
            (3, None, None, None, None, None), (9, 90, "i", 9.0, 9.0, "9.50")]
    assert result.verified is not None and not result.verified.equal
    (table,) = result.verified.tables
    assert sorted(str(d) for d in table.differences) == [
        f"row id={i} is missing in PostgreSQL" for i in (4, 5, 6, 7, 8)]


@pytest.mark.parametrize("schema", [p.stem for p in edge_schemas()])
def test_edge_case_arrives_through_the_guard(schema: str, tmp_path: Path, pg_dsn: str) -> None:
    """The same edge cases with the source changed (its header only) after the plan: the
    copy reads them with the storage-class guard and the searches it skips on the profiled
    snapshot; every cell still arrives and verifies (no value is taken for a misfit)."""
    db = build_db(tmp_path / f"{schema}.db",
                  (ROOT / "schemas" / "edge" / f"{schema}.sql").read_text())
    plan = build_plan(db)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 7")  # a commit: the snapshot is not the profiled one
    assert snapshot_identity(db) != plan.source["snapshot"]
    result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn), quiet)
    assert not any(r.rejected for r in result.tables)
    assert compare_all(db, pg_dsn, plan) == []
    assert result.verified is not None and result.verified.equal


def test_reject_file_names_are_the_same_in_every_process() -> None:
    """A resumed run is another process: a table whose name is not a safe file name must
    get the same reject file (Python's hash() is salted per process)."""
    import os
    import subprocess
    import sys

    code = "from transfer.copyread import _safe_file_name as f; print(f('my table/ä'))"
    names = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONHASHSEED": seed},
                            check=True).stdout for seed in ("1", "2")}
    assert len(names) == 1 and names.pop().startswith("my_table___")
