"""sqlite2pg run against a real PostgreSQL: every cell compared by reading both sides,
conflicts refused, failures leaving the target untouched, the partial-run options."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from compare import compare_all
from conftest import ROOT, build_db, edge_schemas

from transfer import pipeline
from transfer.errors import BlockersFound, ConflictError, DataError
from transfer.plan import build_plan


def quiet(_msg: str) -> None:
    pass


def tables_in(dsn: str, schema: str = "public") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                            (schema,)).fetchall()
    return {r[0] for r in rows}


def schemas_in(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}


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
    assert "sqlite2pg_staging" not in " ".join(schemas_in(pg_dsn))


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
    assert not [s for s in schemas_in(pg_dsn) if s.startswith("sqlite2pg_")]


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
    from transfer.plan import load_plan, save_plan

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
