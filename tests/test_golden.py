"""Golden DDL per fixture schema, and the planned DDL applied to a real PostgreSQL.

Refresh the golden files with: pytest tests/test_golden.py --update-golden
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, build_db, edge_schemas

from transfer import ddl
from transfer.plan import build_plan

GOLDEN = ROOT / "tests" / "golden"
CASES = [p.stem for p in edge_schemas()] + ["saas"]


def planned_sql(name: str, tmp_path: Path) -> str:
    if name == "saas":
        db = build_db(tmp_path / "saas.db", (ROOT / "schemas" / "saas.sql").read_text())
    else:
        db = build_db(tmp_path / f"{name}.db", (ROOT / "schemas" / "edge" / f"{name}.sql")
                      .read_text())
    return ddl.script(build_plan(db))


@pytest.mark.parametrize("name", CASES)
def test_golden_ddl(name: str, tmp_path: Path, update_golden: bool) -> None:
    text = planned_sql(name, tmp_path)
    golden = GOLDEN / f"{name}.sql"
    if update_golden:
        golden.write_text(text)
    assert golden.exists(), f"no golden file; run pytest --update-golden to create {golden}"
    assert text == golden.read_text()


@pytest.mark.parametrize("name", CASES)
def test_ddl_applies_to_postgresql(name: str, tmp_path: Path, pg_dsn: str) -> None:
    text = planned_sql(name, tmp_path)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(text.encode())  # one simple-query script, like psql -f
        n = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert n is not None and n[0] >= 1
