"""Property: any table SQLite accepts, with values of every storage class in columns of any
declared type, round-trips through ``run`` with every cell equal (read back from both
sides) and verifies equal."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from pathlib import Path

from compare import compare_all
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from transfer import pipeline
from transfer.plan import build_plan

DECLARED = ["INTEGER", "REAL", "TEXT", "BLOB", "", "VARCHAR(5)", "BOOLEAN", "DATETIME",
            "JSON", "NUMERIC(6,2)", "SMALLINT", "DATE"]

integers = st.integers(min_value=-(2**63), max_value=2**63 - 1)
reals = st.floats(allow_nan=False)  # SQLite stores NaN as NULL
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
blobs = st.binary(max_size=12)
typed_texts = st.sampled_from(["2024-01-02 03:04:05", "2024-01-02T03:04:05.5Z", "2024-02-30",
                               "1999-12-31", "true", "no", "{\"a\": 1}", "[1, 2.50]",
                               "{\"a\": 1, \"a\": 2}", "12.34", "", "\\N", "a\x00b"])
values = st.one_of(st.none(), integers, reals, texts, blobs, typed_texts,
                   st.sampled_from([0, 1, -0.0, float("inf"), 5e-324, 2**53 + 1]))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[object]]]:
    declared = draw(st.lists(st.sampled_from(DECLARED), min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(values, min_size=len(declared), max_size=len(declared)),
                         max_size=8))
    return declared, rows


counter = itertools.count()


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(table=tables())
@example(table=(["DATE"], [[None]]))  # a batch of NULLs only, in a typed column
def test_any_table_round_trips(table: tuple[list[str], list[list[object]]],
                               pg_server: str) -> None:
    declared, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "random.db"
        conn = sqlite3.connect(db)
        cols = ", ".join(f'"c{i}" {d}' for i, d in enumerate(declared))
        conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {cols})")
        marks = ", ".join("?" for _ in range(len(declared) + 1))
        conn.executemany(f"INSERT INTO t VALUES ({marks})",
                         [[i + 1, *row] for i, row in enumerate(rows)])
        conn.commit()
        conn.close()
        plan = build_plan(db)
        assert not plan.blockers, plan.blockers
        schema = f"prop_{next(counter)}"
        result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_server,
                                                            target_schema=schema),
                              lambda _m: None)
        assert compare_all(db, pg_server, plan, schema) == []
        assert result.verified is not None and result.verified.equal, [
            (v.table, v.error, [str(d) for d in v.differences]) for v in result.verified.tables]
