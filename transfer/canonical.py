"""The canonical text of a value, on both sides of verify: PostgreSQL's from what it holds
(SQL expressions the server evaluates), SQLite's from the source values and the plan's
mapping, by code of its own (it never reuses the copier's conversions, or verify would
prove nothing), in bulk with Arrow kernels where it can.

Canonical text of a row: the canonical texts of its columns, in order, joined by ``|``.
A NULL is ``N``; a value of a kind whose text cannot hold ``|`` (``BARE_KINDS``) is its
text alone, any other ``<length>:<text>`` (length in characters), where text is

    smallint, integer, bigint   the decimal integer                     42
    double precision            the IEEE 754 bit pattern as a signed    -9223372036854775808
                                64-bit decimal (bit-exact: -0.0, ±Inf)  (that is -0.0)
    boolean                     t or f
    text, varchar               the text itself
    bytea                       lowercase hex                           00ff
    timestamp, timestamptz      microseconds since 1970-01-01 00:00 UTC 1704103200123457
                                (naive source values are UTC)
    date                        days since 1970-01-01                   19723
    numeric(p,s)                the exact decimal with s decimals       12.50
    json                        the text as written
    jsonb                       PostgreSQL's jsonb text: keys sorted by length then bytes,
                                numbers as exact decimals (a source object with duplicate
                                keys never equals a jsonb value: jsonb keeps one of them)

and, in an application's own schema (run --data-only), uuid as 32 hex digits, interval and
time as microseconds, inet and cidr as address/mask, macaddr in lowercase with colons. A
source value no PostgreSQL value can equal (another storage class, invalid UTF-8) gets a
text beginning with ``UNEQUAL``. Each row's hash is the first 64 bits of its text's SHA-256.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import struct
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from transfer.model import ColumnPlan
from transfer.sqltext import quote_ident

# -- canonical kinds ------------------------------------------------------------------
INT, FLOAT, BOOL, TEXT, BYTES, TS, DATE, NUMERIC, JSONB, OTHER = (
    "int", "float", "bool", "text", "bytes", "ts", "date", "numeric", "jsonb", "other")
# kinds of an application's own schema (run --data-only)
UUID, INTERVAL, TIME, INET, MACADDR = "uuid", "interval", "time", "inet", "macaddr"


def kind_of(pg_type: str) -> str:
    t = pg_type.lower()
    if t in ("smallint", "integer", "bigint"):
        return INT
    if t in ("double precision", "real"):
        return FLOAT  # (a real's float8 is exact: its bits compared as a double's)
    if t == "boolean":
        return BOOL
    if t in ("text", "json") or t.startswith("character varying") or t.startswith("varchar"):
        return TEXT
    if t == "bytea":
        return BYTES
    if t.startswith("timestamp"):
        return TS
    if t == "date":
        return DATE
    if t.startswith("numeric"):
        return NUMERIC
    if t == "jsonb":
        return JSONB
    if t == "uuid":
        return UUID
    if t.startswith("interval"):
        return INTERVAL
    if t.startswith("time without") or t == "time" or t.startswith("time("):
        return TIME
    if t in ("inet", "cidr"):
        return INET
    if t == "macaddr":
        return MACADDR
    return OTHER


# -- the PostgreSQL side --------------------------------------------------------------
def pg_value_text(col: sql.Composable, kind: str) -> sql.Composable:
    """A PostgreSQL expression for the canonical text of a non-NULL value."""
    templates = {
        INT: "{c}::text",
        FLOAT: "(('x' || encode(float8send({c}), 'hex'))::bit(64)::bigint)::text",
        BOOL: "CASE WHEN {c} THEN 't' ELSE 'f' END",
        TEXT: "{c}::text",
        BYTES: "encode({c}, 'hex')",
        TS: "CASE WHEN isfinite({c}) THEN (extract(epoch FROM {c}) * 1000000)::bigint::text "
            "ELSE {c}::text END",
        DATE: "CASE WHEN isfinite({c}) THEN ({c} - date '1970-01-01')::text ELSE {c}::text END",
        NUMERIC: "{c}::text",
        JSONB: "{c}::text",
        OTHER: "{c}::text",
        UUID: "replace({c}::text, '-', '')",
        INTERVAL: "(extract(epoch FROM {c}) * 1000000)::bigint::text",
        TIME: "(extract(epoch FROM {c}) * 1000000)::bigint::text",
        INET: "host({c}) || '/' || masklen({c})",
        MACADDR: "{c}::text",
    }
    return sql.SQL(templates[kind]).format(c=col)


# Kinds whose canonical texts never hold '|' and are never 'N' (digits, hex, signs, 't'/'f',
# 'infinity', 'NaN', an address): a field of such a kind is its text alone, since it cannot
# blur a boundary between fields; any other field is prefixed with its length. (The length
# prefix costs PostgreSQL the value's text twice: it computes no common subexpression.)
BARE_KINDS = frozenset({INT, FLOAT, BOOL, BYTES, TS, DATE, NUMERIC, UUID, INTERVAL, TIME,
                        INET, MACADDR})


def pg_field(col: sql.Composable, kind: str) -> sql.Composable:
    v = pg_value_text(col, kind)
    if kind in BARE_KINDS:
        return sql.SQL("CASE WHEN {c} IS NULL THEN 'N' ELSE {v} END").format(c=col, v=v)
    return sql.SQL("CASE WHEN {c} IS NULL THEN 'N' ELSE length({v})::text || ':' || {v} END"
                   ).format(c=col, v=v)


def pg_joined(fields: list[sql.Composable]) -> sql.Composable:
    if not fields:
        return sql.SQL("''")
    return sql.SQL(" || '|' || ").join(fields)


# -- the SQLite side ------------------------------------------------------------------
TRUE_WORDS = frozenset({"t", "true", "y", "yes", "1"})
FALSE_WORDS = frozenset({"f", "false", "n", "no", "0"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The time grammar (README, transfer.timetext), written again here on purpose: a date,
# then optionally a clock (hh:mm, :ss, 1-6 fraction digits) and then optionally a zone.
_TS = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?"
                 r"(Z|[+-]\d\d(?::?\d\d)?)?)?", re.ASCII)
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)", re.ASCII)
UNEQUAL = "\x00"  # prefix of a canonical text no PostgreSQL value can have


def ts_micros(text: str) -> str:
    """Microseconds since the epoch of an ISO 8601 text (naive means UTC)."""
    m = _TS.fullmatch(text)
    if not m:
        return UNEQUAL + text
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                      tzinfo=UTC)
        if off and off != "Z":
            sign = -1 if off[0] == "-" else 1
            digits = off[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 23 or minutes > 59:
                raise ValueError(off)
            dt -= sign * timedelta(hours=hours, minutes=minutes)
    except (ValueError, OverflowError):
        return UNEQUAL + text
    micros = int(((frac or "") + "000000")[:6])
    delta = dt - EPOCH
    return str((delta.days * 86400 + delta.seconds) * 1_000_000 + micros)


_FAST_TS = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?$"
_FAST_DATE = r"^\d{4}-\d\d-\d\d$"
_MONTH_DAYS = pa.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())


def _part(arr: pa.Array, start: int, stop: int) -> pa.Array:
    return pc.cast(pc.utf8_slice_codeunits(arr, start, stop), pa.int64())


def _days(y: pa.Array, m: pa.Array, d: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Days since 1970-01-01 of a proleptic Gregorian date, and whether the date exists."""
    leap = pc.and_(pc.equal(pc.bit_wise_and(y, 3), 0), pc.or_(
        pc.not_equal(pc.subtract(y, pc.multiply(pc.divide(y, 100), 100)), 0),
        pc.equal(pc.subtract(y, pc.multiply(pc.divide(y, 400), 400)), 0)))
    month_ok = pc.and_(pc.greater_equal(m, 1), pc.less_equal(m, 12))
    limit = pc.take(_MONTH_DAYS, pc.if_else(month_ok, m, 0))
    limit = pc.if_else(pc.and_(pc.equal(m, 2), pc.invert(leap)), 28, limit)
    ok = pc.and_(pc.and_(month_ok, pc.greater_equal(d, 1)), pc.less_equal(d, limit))
    # days from civil (H. Hinnant), all terms non-negative for years 1..9999
    early = pc.less_equal(m, 2)
    yy = pc.subtract(y, pc.cast(early, pa.int64()))
    era = pc.divide(yy, 400)
    yoe = pc.subtract(yy, pc.multiply(era, 400))
    mp = pc.if_else(early, pc.add(m, 9), pc.subtract(m, 3))
    doy = pc.add(pc.divide(pc.add(pc.multiply(mp, 153), 2), 5), pc.subtract(d, 1))
    doe = pc.add(pc.subtract(pc.add(pc.multiply(yoe, 365), pc.divide(yoe, 4)),
                             pc.divide(yoe, 100)), doy)
    return pc.subtract(pc.add(pc.multiply(era, 146097), doe), 719468), ok


def _ts_texts(arr: pa.Array) -> pa.Array:
    """Canonical microseconds of naive ISO texts: the common shape in bulk, the rest one by one."""
    fast = pc.fill_null(pc.match_substring_regex(arr, _FAST_TS), False)
    if not pc.any(fast).as_py():
        return pa.array([None if v is None else ts_micros(v) for v in arr.to_pylist()],
                        pa.string())
    safe = pc.if_else(fast, arr, "1970-01-01 00:00:00")
    year = _part(safe, 0, 4)
    days, ok = _days(year, _part(safe, 5, 7), _part(safe, 8, 10))
    ok = pc.and_(ok, pc.greater_equal(year, 1))  # (the grammar's years: 0001 to 9999)
    h, mi, sec = _part(safe, 11, 13), _part(safe, 14, 16), _part(safe, 17, 19)
    ok = pc.and_(ok, pc.and_(pc.less(h, 24), pc.and_(pc.less(mi, 60), pc.less(sec, 60))))
    frac = pc.utf8_slice_codeunits(safe, 20, 26)
    micros = pc.cast(pc.utf8_rpad(pc.binary_join_element_wise("0", frac, ""), 7, "0"),
                     pa.int64())  # "0" first: an empty fraction is 0
    seconds = pc.add(pc.add(pc.multiply(days, 86400), pc.multiply(h, 3600)),
                     pc.add(pc.multiply(mi, 60), sec))
    value = pc.cast(pc.add(pc.multiply(seconds, 1_000_000), micros), pa.string())
    slow_idx = [i for i, (f, good) in enumerate(zip(fast.to_pylist(), ok.to_pylist(),
                                                    strict=True)) if not (f and good)]
    if not slow_idx:
        return value
    out = value.to_pylist()
    texts = arr.to_pylist()
    for i in slow_idx:
        out[i] = None if texts[i] is None else ts_micros(texts[i])
    return pa.array(out, pa.string())


def date_days(text: str) -> str:
    m = _DATE.fullmatch(text.strip())
    try:
        if not m:
            raise ValueError
        return str((date(int(m[1]), int(m[2]), int(m[3])) - date(1970, 1, 1)).days)
    except ValueError:
        return UNEQUAL + text


def exact_decimal(value: Any, scale: int | None) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return UNEQUAL + repr(value)
        d = Decimal(repr(value))
    else:
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation:
            return UNEQUAL + str(value)
        if not d.is_finite():
            return UNEQUAL + str(value)
    if scale is not None:
        exponent = d.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent <= scale:
            d = d.quantize(Decimal(1).scaleb(-scale))
    if d.is_zero():
        d = abs(d)
    return format(d, "f")


_NUM = "\x00num:"
_NUM_OUT = re.compile(r'"\\u0000num:([^"]*)"')


def jsonb_text(text: str) -> str:
    """The text PostgreSQL's jsonb output gives for a JSON document.

    Parsed by Python's json module with every non-integer number kept as its exact text;
    an object with duplicate keys is unequal; keys are sorted the way jsonb does (shorter
    first, then bytewise); printed with jsonb's separators, numbers as exact decimals.
    """
    if _NUM in text:
        return UNEQUAL + text
    try:
        value = _JSON_IN.decode(text)
    except (ValueError, TypeError, RecursionError):
        return UNEQUAL + text
    out = _JSON_OUT.encode(value)
    return _NUM_OUT.sub(_number_out, out) if "\\u0000num:" in out else out


def _number(text: str) -> str:
    return _NUM + text


def _number_out(m: re.Match[str]) -> str:
    d = Decimal(m.group(1))
    return format(abs(d) if d.is_zero() else d, "f")


def _jsonb_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    last = dict(pairs)
    if len(last) != len(pairs):
        raise ValueError("duplicate keys")  # jsonb would keep the last only: not equal
    if len(last) < 2:
        return last
    # UTF-8 keeps code point order, so comparing str is comparing bytes
    keys = [_jsonb_key(k) for k in last]
    if all(a < b for a, b in itertools.pairwise(keys)):
        return last  # (already in jsonb's order, as often: no new dict)
    return {k: last[k] for _n, k in sorted(keys)}


def _jsonb_key(k: str) -> tuple[int, str]:
    return (len(k) if k.isascii() else len(k.encode()), k)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


_JSON_IN = json.JSONDecoder(parse_float=_number, object_pairs_hook=_jsonb_object,
                            parse_constant=_reject_constant)
_JSON_OUT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


_BLANK = r"[ \t\n\r]*"  # JSON's whitespace (PostgreSQL's and Python's alike)
_PLAIN_STRING = r'"[^"\\\x00-\x1f]*"'  # no escape, no quote, no control character
_FLAT_PAIR = (_PLAIN_STRING + _BLANK + ":" + _BLANK
              + r"(?:" + _PLAIN_STRING + r"|0|-?[1-9][0-9]*|true|false|null)")
_FLAT_OBJECT = (r"^" + _BLANK + r"\{" + _BLANK + r"(?:" + _FLAT_PAIR + r"(?:" + _BLANK + ","
                + _BLANK + _FLAT_PAIR + r")*)?" + _BLANK + r"\}" + _BLANK + r"$")


def jsonb_texts(arr: pa.Array) -> pa.Array:
    """``jsonb_text`` of each text of the string array ``arr`` (nulls kept): the flat
    objects of ``_flat_object_texts`` in bulk, every other text one by one."""
    if len(arr) > 1:  # a value written again and again is worked out once
        coded = pc.dictionary_encode(arr)
        if 2 * len(coded.dictionary) < len(arr):
            return pc.take(jsonb_texts(coded.dictionary), coded.indices)
    flat = pc.fill_null(pc.match_substring_regex(arr, _FLAT_OBJECT), False)
    out = pc.replace_with_mask(pa.nulls(len(arr), pa.string()), flat,
                               _flat_object_texts(pc.filter(arr, flat)))
    rest = pc.and_(pc.is_valid(arr), pc.is_null(out))  # (a repeated key left it null)
    if not pc.any(rest).as_py():
        return out
    return pc.replace_with_mask(out, rest, pa.array(
        [jsonb_text(v) for v in pc.filter(arr, rest).to_pylist()], pa.string()))


def _flat_object_texts(arr: pa.Array) -> pa.Array:
    """PostgreSQL's jsonb text of each JSON text of ``arr``, all of which match
    ``_FLAT_OBJECT``; null for an object with a repeated key (``jsonb_text`` says why).

    ``_FLAT_OBJECT`` takes one object, JSON's whitespace anywhere between its tokens, of
    pairs whose key is a string and whose value a string, an integer, true, false or null;
    no string holds a backslash, a '"' or a character below U+0020, and an integer has no
    leading zero and is not -0 (jsonb prints -0 as 0: left to ``jsonb_text``). jsonb
    prints such an object as ``{"key": value, ...}`` (``{}`` when empty), its keys ordered
    by byte length, then bytewise: each string exactly as written, quotes included (jsonb
    escapes only characters these strings do not hold), an integer as its digits (numeric
    keeps them all) and the literals as themselves; the whitespace goes. So:

    split at '"', a text is pieces outside strings and inside, in turn (no string holds a
    '"'). Without its blanks, the piece after a string starts with ':' when that string
    is a key; the piece then holds the key's value, or is ':' alone when the value is the
    next string. Each key and its value make ``"key": value``; sorted by (text, rank of
    the key in jsonb's order) and joined by ``, `` in each text. Two equal keys of one
    text sort side by side.
    """
    pieces = pc.split_pattern(arr, '"')
    strings = pc.list_slice(pieces, 1, None, 2)
    texts = pc.list_flatten(strings)
    after = pc.list_flatten(pc.list_slice(pieces, 2, None, 2))  # (aligned with texts)
    for blank in " \t\n\r":
        if pc.any(pc.match_substring(after, blank)).as_py():
            after = pc.replace_substring(after, blank, "")
    is_key = pc.starts_with(after, ":")
    at = pc.cast(pc.indices_nonzero(is_key), pa.int64())
    keys = pc.take(texts, at)
    quoted = pc.take(pc.equal(after, ":"), at)
    string_value = pc.take(texts, pc.if_else(quoted, pc.add(at, 1), None))
    quote = pc.if_else(quoted, '"', None)
    other_value = pc.utf8_slice_codeunits(pc.take(after, at), 1, -1)  # ":12," -> "12"
    pairs = pc.binary_join_element_wise('"', keys, '": ', quote, string_value, quote,
                                        other_value, "", null_handling="skip")
    names = pc.dictionary_encode(keys)
    order = pc.sort_indices(pa.table({"n": pc.binary_length(names.dictionary),
                                      "k": names.dictionary}),
                            sort_keys=[("n", "ascending"), ("k", "ascending")])
    rank = pc.take(pc.cast(pc.sort_indices(order), pa.int64()), names.indices)  # (inverse)
    width = max(len(names.dictionary), 1)
    parent = pc.cast(pc.take(pc.list_parent_indices(strings), at), pa.int64())
    place = pc.add(pc.multiply(parent, width), rank)
    by_place = pc.sort_indices(place)
    first_slot = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(
        pc.cast(pc.list_value_length(strings), pa.int64()))])
    keys_before = pa.concat_arrays([pa.array([0], pa.int64()),
                                    pc.cumulative_sum(pc.cast(is_key, pa.int64()))])
    per_text = pa.LargeListArray.from_arrays(pc.take(keys_before, first_slot),
                                             pc.take(pairs, by_place))
    out = pc.binary_join_element_wise("{", pc.binary_join(per_text, ", "), "}", "")
    place = pc.take(place, by_place)
    if len(place) > 1:
        twin = pc.equal(place.slice(1), place.slice(0, len(place) - 1))
        if pc.any(twin).as_py():
            repeated = pc.divide(pc.filter(place.slice(1), twin), width)
            out = pc.if_else(pc.is_in(pa.array(range(len(arr)), pa.int64()), repeated),
                             None, out)
    return out


def _bool_text(v: Any) -> str:
    if isinstance(v, str):
        w = v.strip().lower()
        return "t" if w in TRUE_WORDS else "f" if w in FALSE_WORDS else UNEQUAL + v
    return "t" if v == 1 else "f" if v == 0 else UNEQUAL + str(v)


def _scale(pg_type: str) -> int | None:
    m = re.search(r"numeric\(\s*\d+\s*,\s*(\d+)\s*\)", pg_type)
    return int(m.group(1)) if m else (0 if re.search(r"numeric\(\s*\d+\s*\)", pg_type)
                                       else None)


# -- reading the source: verify's own query ------------------------------------------
# Every value is read as one text, "<storage class>:<payload>" (NULL stays NULL), by
# verify's own SQLite expression: the payload of a real is SQLite's text of it (the
# Arrow driver's SQLite prints every double exactly, the text of -0.0 keeps its sign), of a
# blob its hex (of anything, for a bytea column). One text column per source column: a
# value of any storage class reads, none is converted on the way.
_CLASSES = ("integer", "real", "text", "blob")


def source_expr(name: str, kind: str) -> str:
    """verify's SQLite expression for column ``name`` compared as ``kind``."""
    q = quote_ident(name)
    real = (f"CASE WHEN {q} = 0.0 AND atan2({q}, -1.0) < 0 THEN '-0.0' "
            f"ELSE CAST({q} AS TEXT) END")
    if kind == BYTES:
        payload = f"CASE typeof({q}) WHEN 'real' THEN hex({real}) ELSE hex({q}) END"
    else:
        payload = (f"CASE typeof({q}) WHEN 'real' THEN {real} WHEN 'blob' THEN hex({q}) "
                   f"ELSE CAST({q} AS TEXT) END")
    return f"CASE WHEN {q} IS NOT NULL THEN typeof({q}) || ':' || {payload} END"


def _tagged(arr: pa.Array) -> tuple[dict[str, pa.Array], pa.Array]:
    """(storage class -> mask of the values of that class, payloads)."""
    masks = {c: pc.fill_null(pc.starts_with(arr, c + ":"), False) for c in _CLASSES}
    return masks, pc.replace_substring_regex(arr, "^[a-z]+:", "", max_replacements=1)


def _unequal(arr: pa.Array) -> pa.Array:
    """A text no PostgreSQL value's canonical text can be."""
    return pc.binary_join_element_wise(UNEQUAL, arr, "")


def _float_bits_of(payload: pa.Array, is_real: pa.Array, is_int: pa.Array) -> pa.Array:
    """Canonical texts of doubles: reals from their exact text, integers up to 2^53."""
    good = pc.or_(is_real, is_int)
    texts = pc.if_else(good, payload, "0")
    ints = pc.cast(pc.if_else(is_int, texts, "0"), pa.int64())
    too_big = pc.and_(is_int, pc.or_(pc.greater(ints, 2**53), pc.less(ints, -(2**53))))
    ints = pc.if_else(too_big, 0, ints)
    values = pc.if_else(is_int, pc.cast(ints, pa.float64()),
                        pc.cast(pc.if_else(is_real, texts, "0"), pa.float64()))
    bits = pa.Array.from_buffers(pa.int64(), len(values), values.buffers(),
                                 offset=values.offset)
    out = pc.cast(bits, pa.string())
    return pc.if_else(pc.and_(good, pc.invert(too_big)), out, None)


def source_value_text(arr: pa.Array, col: ColumnPlan, kind: str) -> pa.Array:
    """Canonical texts (string array, nulls kept) of the tagged texts ``source_expr`` read."""
    arr = _valid_utf8(arr)
    masks, payload = _tagged(arr)
    is_int, is_real, is_text = masks["integer"], masks["real"], masks["text"]
    if kind == INT:
        # (a text holding a decimal integer means that integer: a --cast of such a column)
        digits = pc.and_(is_text, pc.fill_null(pc.match_substring_regex(
            payload, r"^-?[0-9]{1,19}$"), False))
        ints = pa.array([int(v) if d and -(2**63) <= int(v) < 2**63 else None
                         for v, d in zip(payload.to_pylist(), digits.to_pylist(), strict=True)]
                        if pc.any(digits).as_py() else [None] * len(payload), pa.int64())
        good = pc.if_else(is_int, payload, pc.cast(ints, pa.string()))
    elif kind == FLOAT:
        number = pc.and_(is_text, pc.fill_null(pc.match_substring_regex(
            payload, r"^(-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|-?Inf)$"), False))
        good = _float_bits_of(payload, pc.or_(is_real, number), is_int)
    elif kind == TEXT or kind == OTHER:
        good = pc.if_else(pc.or_(is_text, pc.or_(is_int, is_real)), payload, None)
    elif kind == BYTES:
        good = pc.utf8_lower(payload)
    elif kind == JSONB:  # (any other storage class: unequal, as its payload)
        good = pc.if_else(is_text, jsonb_texts(pc.if_else(is_text, payload, None)),
                          _unequal(payload))
    elif kind == TS and not col.convert.startswith("epoch_") and not pc.any(is_int).as_py():
        good = pc.if_else(is_text, _ts_texts(pc.if_else(is_text, payload, None)), None)
    else:
        fn = _per_value(col, kind)
        values = [None if v is None else fn(t, v) for t, v in zip(
            _classes(masks, len(arr)), payload.to_pylist(), strict=True)]
        return pa.array(values, pa.string())
    # a value of a class this kind does not take (or invalid UTF-8): unequal to anything
    return pc.if_else(pc.and_(pc.is_null(good), pc.is_valid(arr)), _unequal(arr), good)


def _classes(masks: dict[str, pa.Array], n: int) -> list[str]:
    out = [""] * n
    for c, m in masks.items():
        for i in pc.indices_nonzero(m).to_pylist():
            out[i] = c
    return out


def _per_value(col: ColumnPlan, kind: str) -> Callable[[str, str], str]:
    """Canonical text of one (storage class, payload), for the kinds done value by value."""
    if kind == TS:  # epoch seconds or milliseconds
        if col.convert.startswith("epoch_"):
            scale = 1_000 if col.convert.startswith("epoch_ms_") else 1_000_000
            return lambda c, v: str(int(v) * scale) if c == "integer" else UNEQUAL + v
        return lambda c, v: _epoch_by_range(int(v)) if c == "integer" else ts_micros(v) \
            if c == "text" else UNEQUAL + v
    if kind == UUID:
        return lambda c, v: _uuid_hex(c, v)
    if kind == INTERVAL:
        unit = col.convert.partition(":")[2]
        return lambda c, v: _interval_micros(c, v, unit)
    if kind == TIME:
        # (the date a framework writes a time of day on: Rails', or the load's convention)
        day = "2000-01-01" if col.convert == "rails_time_text" else \
            col.convert.partition(":")[2]
        return lambda c, v: _clock_micros(_off_day(v, day)) if c == "text" else UNEQUAL + v
    if kind == INET:
        return lambda c, v: _inet_text(v) if c == "text" else UNEQUAL + v
    if kind == MACADDR:
        return lambda c, v: v.lower().replace("-", ":") if c == "text" and re.fullmatch(
            r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}", v) else UNEQUAL + v
    if kind == DATE:
        return lambda c, v: date_days(v) if c == "text" else UNEQUAL + v
    if kind == NUMERIC:
        digits = _scale(col.pg_type)
        return lambda c, v: exact_decimal(int(v) if c == "integer" else float(v)
                                          if c == "real" else v, digits) \
            if c != "blob" else UNEQUAL + v
    if kind == JSONB:
        return lambda c, v: jsonb_text(v) if c == "text" else UNEQUAL + v
    if kind == BOOL:
        return lambda c, v: _bool_text(int(v) if c == "integer" else v) \
            if c in ("integer", "text") else UNEQUAL + v
    return lambda c, v: UNEQUAL + v


# The conventions of an application's own schema, as the README states them, written here
# on their own (not the loader's code).
def _epoch_by_range(n: int) -> str:
    """Epoch seconds (1973 to 2100) or milliseconds (the same instants), by the range."""
    if 100_000_000 <= n <= 4_102_444_800:
        return str(n * 1_000_000)
    if 100_000_000_000 <= n <= 4_102_444_800_000:
        return str(n * 1_000)
    return UNEQUAL + str(n)


def _uuid_hex(cls: str, v: str) -> str:
    h = v.lower().replace("-", "") if cls == "text" and len(v) == 36 else v.lower()
    ok = cls in ("text", "blob") and re.fullmatch(r"[0-9a-f]{32}", h) is not None
    return h if ok else UNEQUAL + v


_ISO_DURATION = re.compile(r"()P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?"
                           r"(?:(\d+)(?:\.(\d{1,6}))?S)?)?", re.ASCII)


def _interval_micros(cls: str, v: str, unit: str) -> str:
    scale = {"microseconds": 1, "milliseconds": 1_000, "seconds": 1_000_000}.get(unit)
    if cls == "integer" and scale:
        return str(int(v) * scale)
    m = _ISO_DURATION.fullmatch(v) if cls == "text" else None
    if m and v not in ("P", "-P", "PT", "-PT"):
        sign, w, d, h, mi, s, frac = m.groups()
        seconds = ((int(w or 0) * 7 + int(d or 0)) * 86400 + int(h or 0) * 3600
                   + int(mi or 0) * 60 + int(s or 0))
        micros = seconds * 1_000_000 + int((frac or "").ljust(6, "0"))
        return str(-micros if sign else micros)
    if cls == "text" and unit == "datetime":  # a datetime past 1970-01-01
        at = ts_micros(v)
        return at if not at.startswith(UNEQUAL) else UNEQUAL + v
    return UNEQUAL + v


def _off_day(v: str, day: str) -> str:
    """A time of day a framework writes on a fixed ``day`` (Rails: 2000-01-01 09:30:15),
    as the clock alone."""
    if day and v.startswith(day + " "):
        return v[len(day) + 1:]
    return v


def _clock_micros(v: str) -> str:
    m = re.fullmatch(r"(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?", v, re.ASCII)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        return UNEQUAL + v
    return str(((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3] or 0)) * 1_000_000
               + int((m[4] or "").ljust(6, "0")))


def _inet_text(v: str) -> str:
    import ipaddress

    try:
        iface = ipaddress.ip_interface(v)
    except ValueError:
        return UNEQUAL + v
    ip = iface.ip
    shown = str(ip)
    if ip.version == 6:
        # PostgreSQL prints an IPv6 address whose first 96 bits are those of an IPv4-mapped
        # (::ffff:0:0/96) or an IPv4-compatible one (six zero groups, then a non-zero one)
        # with its last 32 bits in dotted decimal, as inet_net_ntop does; Python in hex.
        words = ip.packed
        if words[:10] == bytes(10) and (words[10:12] == b"\xff\xff" or (
                words[10:12] == bytes(2) and words[12:14] != bytes(2))):
            shown = ("::ffff:" if words[10:12] == b"\xff\xff" else "::") + \
                str(ipaddress.IPv4Address(words[12:]))
    return f"{shown}/{iface.network.prefixlen}"


def _valid_utf8(arr: pa.Array) -> pa.Array:
    """``arr``, its invalid UTF-8 texts (PostgreSQL text cannot hold them) made unequal."""
    try:
        arr.validate(full=True)
        return arr
    except pa.ArrowInvalid:
        return pa.array([None if b is None else _utf8_or_unequal(b)
                         for b in arr.cast(pa.binary()).to_pylist()], pa.string())


def _utf8_or_unequal(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return UNEQUAL + b.hex()


def fields_of(values: pa.Array, kind: str) -> pa.Array:
    """``N``, else the canonical text (``BARE_KINDS``) or ``<length>:<text>``."""
    if kind in BARE_KINDS:
        return pc.fill_null(values, "N")
    lengths = pc.cast(pc.utf8_length(values), pa.string())
    return pc.fill_null(pc.binary_join_element_wise(lengths, values, ":"), "N")


def row_hashes(texts: pa.Array) -> tuple[int, ...]:
    """The first 64 bits of each text's SHA-256, as an unsigned big-endian integer (one
    unpacking of them all, not an integer object made per row)."""
    sha256 = hashlib.sha256
    blob = b"".join([sha256(b).digest()[:8] for b in pc.cast(texts, pa.binary()).to_pylist()])
    return struct.unpack(f">{len(texts)}Q", blob)
