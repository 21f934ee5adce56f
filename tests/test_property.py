"""Property: any table SQLite accepts, with values of every storage class in columns of any
declared type, round-trips through ``run`` with every cell equal (read back from both
sides) and verifies equal."""

from __future__ import annotations

import itertools
import json
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
                               pg_dsn: str) -> None:
    # (pg_dsn: one fresh database for all the examples, each in a schema of its own)
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
        result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn, target_schema=schema),
                              lambda _m: None)
        assert compare_all(db, pg_dsn, plan, schema) == []
        assert result.verified is not None and result.verified.equal, [
            (v.table, v.error, [str(d) for d in v.differences]) for v in result.verified.tables]


KEYS = st.sampled_from(["a", "b", "a:b", 'q"', "back\\", "é", " ", ""])
json_values = st.recursive(
    st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["a", 'x"', "\\", ":", "é"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.lists(st.tuples(KEYS, inner), max_size=4)),
    max_leaves=8)


@st.composite
def json_texts(draw: st.DrawFn, value: object = None) -> str:
    """JSON as applications write it: any spacing, escaped or raw non-ASCII, objects as
    lists of pairs (so a key can repeat)."""
    value = draw(json_values) if value is None else value
    ascii_only = draw(st.booleans())
    blank = draw(st.sampled_from(["", " ", "\n  "]))
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return "{" + ",".join(
            json.dumps(k, ensure_ascii=ascii_only) + blank + ":" + blank
            + draw(json_texts(v)) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ("," + blank).join(draw(json_texts(v)) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _has_duplicate(text: str) -> bool:
    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        if len({k for k, _v in pairs}) != len(pairs):
            raise KeyError
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=hook)
    except KeyError:
        return True
    return False


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.none(), json_texts()), max_size=20))
def test_duplicate_json_keys_are_found_exactly(texts: list[str | None]) -> None:
    """convert.duplicate_keys (its bulk search keeps jsonb from silently dropping a key)
    names the first text holding an object with a repeated key, and only such a text."""
    import pyarrow as pa

    from transfer import convert

    found = convert.duplicate_keys(pa.array(texts, pa.string()))
    first = next((i for i, t in enumerate(texts) if t is not None and _has_duplicate(t)), None)
    assert found == first
