"""The time grammar (transfer.timetext, the README's "Time" case): generated time texts,
valid and near misses. The copy's conversions, verify's own implementation and a third,
written here from the grammar, agree on every text; a column of them gets the type the
grammar says, and arrives as that oracle computes it, verified equal."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import tempfile
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from transfer import canonical, convert, pipeline
from transfer.plan import build_plan

GRAMMAR = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?"
                     r"(?:(Z)|([+-])(\d\d)(?::?(\d\d))?)?)?", re.ASCII)


def oracle(text: str) -> tuple[dt.datetime, bool] | None:
    """(the UTC instant, whether the text has a zone), or None: not a time text."""
    m = GRAMMAR.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    if y == "0000":
        return None
    try:
        value = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                            int((frac or "").ljust(6, "0")), tzinfo=dt.UTC)
        if sign:
            if int(oh) > 23 or int(om or 0) > 59:
                return None
            shift = dt.timedelta(hours=int(oh), minutes=int(om or 0))
            value = value - shift if sign == "+" else value + shift
    except (ValueError, OverflowError):
        return None
    return value, bool(z or sign)


digits = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
years = st.one_of(st.integers(min_value=1, max_value=9999).map(lambda n: f"{n:04d}"),
                  st.just("0000"))
fractions = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=8).map(
    lambda f: "." + f))
zones = st.one_of(st.just(""), st.just("Z"), st.builds(
    lambda sign, h, m, colon: f"{sign}{h}{colon + m if m else ''}", st.sampled_from("+-"),
    digits, st.one_of(st.just(""), digits), st.sampled_from(["", ":"])))


@st.composite
def time_texts(draw: st.DrawFn) -> str:
    text = f"{draw(years)}-{draw(digits)}-{draw(digits)}"
    clock = draw(st.sampled_from(["none", "hm", "hms"]))
    if clock != "none":
        text += draw(st.sampled_from(["T", " "])) + f"{draw(digits)}:{draw(digits)}"
        if clock == "hms":
            text += f":{draw(digits)}{draw(fractions)}"
    return text + draw(zones)


texts = st.one_of(time_texts(), st.sampled_from([
    "2024-01-01", "2024-02-29 23:59:59.999999", "2024-03-31T02:30+02:00", "0001-01-01",
    "9999-12-31 23:59:59Z", "2024-01-01 10", "2024-01-01 24:00:00", "2024-02-30",
    "2024-01-01 10:00:00.1234567", "2024-01-01Z", " 2024-01-01", "2024-1-01",
    "2024-01-01 10:00:00 ", "٢٠٢٤-01-01"]))


def micros(value: dt.datetime) -> int:
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=texts)
@example(text="2024-01-01")  # a date alone: its '-01' is no UTC offset
@example(text="2024-01-01 10:00:00.5-0530")
@example(text="0001-01-01T00:00+01")  # an instant before the year 1
@example(text="9999-12-31 23:00-05:00")
def test_the_copy_and_verify_read_the_grammar_alike(text: str) -> None:
    expected = oracle(text)
    arr = pa.array([text], pa.string())
    try:
        utc = convert.to_timestamptz(arr)[0].as_py()
    except convert.ConversionError:
        utc = None
    try:
        naive = convert.to_timestamp(arr)[0].as_py()
    except convert.ConversionError:
        naive = None
    if expected is None:
        assert utc is None and naive is None, text
        assert canonical.ts_micros(text).startswith(canonical.UNEQUAL)
        return
    value, zoned = expected
    assert utc == value, text
    assert naive == (None if zoned else value.replace(tzinfo=None)), text
    assert canonical.ts_micros(text) == str(micros(value))


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(column=st.lists(texts, min_size=1, max_size=6))
@example(column=["2024-01-01", "2024-01-01 10:00:00"])
@example(column=["2024-01-01", "2024-06-30 12:00:00+02:00"])
def test_a_column_of_time_texts_gets_the_grammars_type(column: list[str],
                                                       pg_dsn: str) -> None:
    parsed = [oracle(t) for t in column]
    if any(p is None for p in parsed):
        want = "text"
    elif any(p is not None and p[1] for p in parsed):
        want = "timestamptz"
    else:
        want = "timestamp"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "times.db"
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(column, 1)))
        conn.commit()
        conn.close()
        plan = build_plan(db)
        assert plan.tables[0].columns[1].pg_type == want, column
        schema = f"s{abs(hash(tuple(column))) % 10**9}"
        result = pipeline.run(db, plan, pipeline.RunOptions(dsn=pg_dsn, target_schema=schema),
                              lambda _m: None)
        assert result.verified is not None and result.verified.equal
        with psycopg.connect(pg_dsn) as pg:
            got = [r[0] for r in pg.execute(sql.SQL("SELECT at FROM {} ORDER BY id").format(
                sql.Identifier(schema, "t"))).fetchall()]
    for text, p, value in zip(column, parsed, got, strict=True):
        if want == "text":
            assert value == text
        elif want == "timestamptz":
            assert p is not None and value == p[0], text
        else:
            assert p is not None and value == p[0].replace(tzinfo=None), text


def test_integers_are_times_only_when_their_range_says_which_unit(tmp_path: Path) -> None:
    from conftest import ROOT, build_db

    db = build_db(tmp_path / "t.db", (ROOT / "schemas" / "edge" / "time_mixed.sql").read_text())
    columns = {c.name: c for c in build_plan(db).tables[0].columns}
    assert (columns["small"].pg_type, columns["small"].convert) == ("bigint", "int64")
    assert "not clearly epoch seconds" in (columns["small"].decision or "")
    assert columns["epoch_s"].convert == "epoch_timestamp"
    assert columns["epoch_ms"].convert == "epoch_ms_timestamp"
    assert columns["dated"].pg_type == "timestamp"
    assert columns["zoned_and_dated"].pg_type == "timestamptz"


@pytest.mark.parametrize("text", ["2024-01-01 10:00:00.1234567", "0000-01-01", "2024-01-01 10"])
def test_texts_outside_the_grammar_are_no_times(text: str) -> None:
    assert oracle(text) is None
    with pytest.raises(convert.ConversionError):
        convert.to_timestamp(pa.array([text]))
