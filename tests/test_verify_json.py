"""verify's bulk canonical text of flat JSON objects equals, byte for byte, what a real
PostgreSQL prints for ``value::jsonb::text`` (and what ``jsonb_text`` computes one value
at a time); an object with a repeated key stays unequal to anything PostgreSQL prints."""

from __future__ import annotations

import json

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transfer import canonical
from transfer.model import ColumnPlan

# keys of 1 to 4 bytes per character, several of one length, and JSON's punctuation
PLAIN = st.characters(blacklist_categories=["Cs"], blacklist_characters='"\\',
                      min_codepoint=0x20)
keys = st.one_of(st.sampled_from(["a", "b", "ab", "ba", "é", "z", "ü", "€", "😀", "aa", "",
                                  " ", "a:b", "{", "}", ",", "é€", "ip", "ua", "bytes"]),
                 st.text(PLAIN, max_size=6))
scalars = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "-1", "1", "true", "false", "null", str(2**63), str(-(2**63) - 1)]),
    st.text(PLAIN, max_size=8).map(lambda s: f'"{s}"'),
    st.sampled_from(['"a, b"', '"x: y"', '"{}"', '"}"', '"{"', '" "', '""', '":"', '","']))
blanks = st.sampled_from(["", "", " ", "\n", "\t ", "\r\n  "])


@st.composite
def flat_objects(draw: st.DrawFn) -> str:
    """A flat JSON object as an application may write it: any spacing, keys in any order,
    a key now and then twice."""
    pairs = draw(st.lists(st.tuples(keys, scalars), max_size=6, unique_by=lambda p: p[0]))
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append((pairs[0][0], draw(scalars)))
    b = [draw(blanks) for _ in range(4 * len(pairs) + 3)]
    body = ",".join(f'{b[4 * i]}"{k}"{b[4 * i + 1]}:{b[4 * i + 2]}{v}{b[4 * i + 3]}'
                    for i, (k, v) in enumerate(pairs))
    return f"{b[-3]}{{{body or b[-2]}}}{b[-1]}"


def _repeats_a_key(text: str) -> bool:
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    return len({k for k, _v in pairs}) != len(pairs)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(flat_objects(), st.none()), min_size=1, max_size=30))
def test_flat_objects_print_as_jsonb_does(texts: list[str | None], pg_dsn: str) -> None:
    arr = pa.array(texts, pa.string())
    taken = pc.fill_null(pc.match_substring_regex(arr, canonical._FLAT_OBJECT),
                                False).to_pylist()
    # every generated text is a flat object the bulk path takes (-0 is never generated)
    assert taken == [t is not None for t in texts]
    bulk = canonical._flat_object_texts(pc.filter(arr, taken)).to_pylist()
    out = canonical.jsonb_texts(arr).to_pylist()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT t::jsonb::text FROM unnest(%s::text[]) WITH ORDINALITY "
                            "AS u(t, i) ORDER BY i", (texts,)).fetchall()
    printed = [r[0] for r in rows]
    done = iter(bulk)
    for text, got, pg in zip(texts, out, printed, strict=True):
        if text is None:
            assert got is None and pg is None
            continue
        one = next(done)
        if _repeats_a_key(text):
            # jsonb keeps one of the two: the source value is not what PostgreSQL holds
            assert one is None
            assert got == canonical.UNEQUAL + text == canonical.jsonb_text(text)
            assert got != pg
        else:
            assert one == got == pg == canonical.jsonb_text(text), text


def test_other_jsonb_texts_keep_their_per_value_text() -> None:
    """Whatever the bulk path does not take gets the text it got one value at a time:
    other storage classes, -0, floats, escapes, arrays, nesting, invalid JSON; and a
    batch of repeated values (worked out once each) the same texts as one of each."""
    col = ColumnPlan("m", "m", "JSON", "jsonb", "", '"m"', "json")
    payloads = [("text", '{"b": 1, "a": -0}'), ("text", '{"a": 1.50, "b": 1e3}'),
                ("text", '{"a\\"b": "\\u00e9", "c": "x\\ny"}'), ("text", '[{"b": 1, "a": 2}]'),
                ("text", '{"a": {"c": 1, "b": 2}}'), ("text", '{"a": 01}'), ("text", "{"),
                ("text", '{"a": 1, "a": 1}'), ("text", '{"b": [], "a": "\x01"}'),
                ("text", '{"bb": 1, "a": true}'), ("text", "{}"), ("integer", "5"),
                ("real", "1.5"), ("blob", "7B7D"), (None, None)]
    tagged = [None if c is None else f"{c}:{p}" for c, p in payloads]
    expected = [None if c is None else canonical.jsonb_text(p) if c == "text"
                else canonical.UNEQUAL + p for c, p in payloads]
    got = canonical.source_value_text(pa.array(tagged, pa.string()), col, canonical.JSONB)
    assert got.to_pylist() == expected
    repeated = canonical.source_value_text(pa.array(tagged * 5, pa.string()), col, canonical.JSONB)
    assert repeated.to_pylist() == expected * 5
