"""Arrow conversions from what SQLite yields to what binary COPY sends, in bulk.

One function per plan ``convert`` name. The copier applies them to every batch; the
profile tries the same functions on the same batches, so ``plan`` predicts exactly what
``run`` will accept. Every conversion is checked: a value that does not convert raises
``ConversionError`` (never a silent NULL, truncation or rounding).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from transfer import timetext
from transfer.model import decimal_of


class ConversionError(Exception):
    """A value that the conversion cannot carry exactly."""


BOOL_TEXT = {"t": True, "true": True, "yes": True, "y": True, "1": True,
             "f": False, "false": False, "no": False, "n": False, "0": False}


def _checked(fn: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    def run(arr: pa.Array) -> pa.Array:
        try:
            return fn(arr)
        except (ValueError, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            # (pa.ArrowInvalid is a ValueError, as are timetext's refusals)
            raise ConversionError(str(e).splitlines()[0]) from None

    return run


@_checked
def to_int64(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.int64())


@_checked
def to_int32(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.int32())


@_checked
def to_int16(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.int16())


# Numbers written as text, for a --cast of a text column to a number type: decimal
# integers, and decimal reals as SQLite writes them (Inf too); nothing else (Arrow alone
# would also read 0x10 and nan).
_INT_TEXT = r"^-?[0-9]+$"
_REAL_TEXT = r"^(-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|-?Inf)$"


def _numbers_of_text(pattern: str, typ: pa.DataType, what: str
                     ) -> Callable[[pa.Array], pa.Array]:
    @_checked
    def run(arr: pa.Array) -> pa.Array:
        text = pc.cast(arr, pa.string())
        if pc.sum(pc.fill_null(pc.match_substring_regex(text, pattern), False)).as_py() != \
                len(text) - text.null_count:
            raise ConversionError(f"a text that is not {what}")
        return pc.cast(text, typ)

    return run


text_to_int64 = _numbers_of_text(_INT_TEXT, pa.int64(), "a decimal integer")
text_to_int32 = _numbers_of_text(_INT_TEXT, pa.int32(), "a decimal integer")
text_to_int16 = _numbers_of_text(_INT_TEXT, pa.int16(), "a decimal integer")
text_to_float64 = _numbers_of_text(_REAL_TEXT, pa.float64(), "a decimal number")


# Text a PostgreSQL type reads on its own: the column is loaded as text and changed to its
# type after the copy (transfer.ddl.retypes); these check every value first, so that a value
# the type would refuse stops the copy naming its row.
def _texts_matching(pattern: str, what: str) -> Callable[[pa.Array], pa.Array]:
    @_checked
    def run(arr: pa.Array) -> pa.Array:
        text = _text_profiled(arr)
        if pc.sum(pc.fill_null(pc.match_substring_regex(text, pattern), False)).as_py() != \
                len(text) - text.null_count:
            raise ConversionError(f"a text that is not {what}")
        return text

    return run


to_uuid_text = _texts_matching(
    r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$", "a UUID")
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
to_time_text = _texts_matching(f"^{_CLOCK}$", "a time of day")
# Rails writes a time column as a time on the date 2000-01-01, which means nothing (any
# other date is refused); PostgreSQL's time reads that text as its time of day.
to_rails_time_text = _texts_matching(f"^(2000-01-01 )?{_CLOCK}$",
                                     "a time of day (as Rails writes it, on 2000-01-01)")


@_checked
def to_inet_text(arr: pa.Array) -> pa.Array:
    import ipaddress

    for v in arr.drop_null().to_pylist():
        try:
            ipaddress.ip_interface(v)
        except ValueError:
            raise ConversionError(f"{v!r} is not an IP address") from None
    return arr


@_checked
def to_numeric_text(arr: pa.Array) -> pa.Array:
    """Numbers read as SQLite's exact text: each as its exact decimal (a real as the
    shortest decimal that is that double)."""
    from decimal import Decimal

    out = []
    for v in arr.to_pylist():
        if v is None or re.fullmatch(r"-?[0-9]+", v):
            out.append(v)
        elif v in ("Inf", "-Inf") or not re.fullmatch(_REAL_TEXT, v):
            raise ConversionError(f"{v!r} is not a finite number")
        else:
            out.append(format(Decimal(repr(float(v))), "f"))
    return pa.array(out, pa.string())


@_checked
def to_float64(arr: pa.Array) -> pa.Array:
    if pa.types.is_integer(arr.type):
        lo, hi = pc.min_max(arr).values()
        if lo.is_valid and (lo.as_py() < -(2**53) or hi.as_py() > 2**53):
            raise ConversionError("an integer beyond 2^53 has no exact double")
    return pc.cast(arr, pa.float64())


@_checked
def to_bool(arr: pa.Array) -> pa.Array:
    if pa.types.is_integer(arr.type):
        if not pc.all(pc.is_in(arr.drop_null(), pa.array([0, 1], arr.type))).as_py() \
                and len(arr.drop_null()):
            raise ConversionError("an integer other than 0 and 1")
        return pc.not_equal(arr, 0)
    lowered = pc.utf8_lower(arr)
    keys = pa.array(list(BOOL_TEXT), pa.string())
    idx = pc.index_in(lowered, value_set=keys)
    if idx.null_count != arr.null_count:
        raise ConversionError("a text that is not a boolean word")
    values = pa.array(list(BOOL_TEXT.values()), pa.bool_())
    return pc.take(values, idx)


@_checked
def to_text(arr: pa.Array) -> pa.Array:
    arr = _text_profiled(arr)  # (bytes cast to text: validates UTF-8)
    arr.validate(full=True)  # invalid UTF-8 read from SQLite raises here
    if len(arr) and pc.any(pc.match_substring(arr, "\x00")).as_py():
        raise ConversionError("a NUL byte, which PostgreSQL text cannot hold")
    return arr


@_checked
def to_bytes(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.binary())


@_checked
def to_timestamp(arr: pa.Array) -> pa.Array:
    """Time text without a UTC offset (transfer.timetext), kept as written."""
    return timetext.to_naive(arr)


@_checked
def to_timestamptz(arr: pa.Array) -> pa.Array:
    """Time text with or without offsets (naive values read as UTC), as UTC instants."""
    return timetext.to_utc(arr)


def _epoch(arr: pa.Array, unit: str, tz: str | None) -> pa.Array:
    if len(arr.drop_null()):
        lo, hi = (v.as_py() for v in pc.min_max(arr).values())
        if timetext.epoch_unit(lo, hi) != unit:
            low, high = timetext.EPOCH_UNITS[unit]
            raise ConversionError(f"an integer outside {low} to {high}, which is not clearly "
                                  f"epoch {'seconds' if unit == 's' else 'milliseconds'}")
    scale = 1_000_000 if unit == "s" else 1_000
    micros = pc.multiply_checked(pc.cast(arr, pa.int64()), scale)
    return pc.cast(micros, pa.timestamp("us", tz=tz))


@_checked
def to_epoch_timestamp(arr: pa.Array) -> pa.Array:
    return _epoch(arr, "s", None)


@_checked
def to_epoch_timestamptz(arr: pa.Array) -> pa.Array:
    return _epoch(arr, "s", "UTC")


@_checked
def to_epoch_ms_timestamp(arr: pa.Array) -> pa.Array:
    return _epoch(arr, "ms", None)


@_checked
def to_epoch_ms_timestamptz(arr: pa.Array) -> pa.Array:
    return _epoch(arr, "ms", "UTC")


@_checked
def to_date(arr: pa.Array) -> pa.Array:
    """Dates (YYYY-MM-DD, transfer.timetext)."""
    return timetext.to_date(arr)


@_checked
def to_jsonb(arr: pa.Array) -> pa.Array:
    """jsonb's binary format is a version byte (1) and the JSON text.

    Refused: ``\\u0000`` (jsonb rejects it) and objects with duplicate keys (jsonb keeps
    only the last: a silent change)."""
    if duplicate_keys(arr) is not None:
        raise ConversionError("a JSON object with duplicate keys, of which jsonb keeps only "
                              "the last")
    if len(arr) and pc.any(pc.match_substring(arr, "\\u0000")).as_py():
        raise ConversionError("\\u0000 in JSON, which jsonb rejects")
    return _jsonb_profiled(arr)


_KEY_END = r'"\s*:'  # every object key ends so (and few other places do)


def duplicate_keys(arr: pa.Array) -> int | None:
    """Index of a JSON text with an object holding the same key twice, or None.

    In bulk, the texts in which a key text repeats are found (``_repeated_keys``); only
    those are parsed, as an object's keys (a repeat may sit in two sibling objects).
    """
    if not len(arr) or arr.null_count == len(arr):
        return None
    for i in sorted(_repeated_keys(arr)):
        value = arr[i].as_py()
        try:
            json.loads(value, object_pairs_hook=_refuse_duplicates)
        except _Duplicate:
            return int(i)
        except ValueError:
            continue  # not JSON at all: json_valid counts those
    return None


def _repeated_keys(arr: pa.Array) -> set[int]:
    """Indices of the texts in which some object key text occurs twice (or that write a
    key with an escape: two spellings can be one key).

    A text without a backslash splits on '"' into pieces in which the odd ones are the
    strings; a string is a key when the piece after it starts with ':' (after blanks).
    Each key becomes (text, key number) as one integer; sorted, a repeat sits next to its
    twin. Texts with a backslash split where a key could end, as a regular expression.
    """
    slashed = pc.fill_null(pc.match_substring(arr, "\\"), False)
    found: set[int] = set()
    plain = pc.indices_nonzero(pc.and_(pc.invert(slashed), pc.is_valid(arr)))
    pieces = pc.split_pattern(pc.take(arr, plain), '"')
    odd = pc.equal(pc.bit_wise_and(pc.list_value_length(pieces), 1), 1)
    if not pc.all(odd).as_py():  # an odd number of quotes: not JSON, json_valid counts it
        pieces, plain = pc.filter(pieces, odd), pc.filter(plain, odd)
    strings = pc.list_slice(pieces, 1, None, 2)
    after = pc.list_flatten(pc.list_slice(pieces, 2, None, 2))
    is_key = pc.starts_with(pc.utf8_ltrim(after, " \t\r\n"), ":")
    keys = pc.filter(pc.list_flatten(strings), is_key)
    if len(keys):
        codes = pc.dictionary_encode(keys)
        texts = pc.cast(pc.filter(pc.list_parent_indices(strings), is_key), pa.int64())
        pairs = pc.add(pc.multiply(texts, len(codes.dictionary)),
                       pc.cast(codes.indices, pa.int64()))
        pairs = pc.take(pairs, pc.sort_indices(pairs))
        twin = pc.equal(pairs.slice(1), pairs.slice(0, len(pairs) - 1))
        if pc.any(twin).as_py():
            repeated = pc.divide(pc.filter(pairs.slice(1), twin), len(codes.dictionary))
            found |= set(pc.take(plain, repeated).to_pylist())
    if pc.any(slashed).as_py():
        found |= _repeated_keys_escaped(pc.indices_nonzero(slashed), arr)
    return found


def _repeated_keys_escaped(where: pa.Array, arr: pa.Array) -> set[int]:
    """``_repeated_keys`` for the texts at ``where``: split where a key could end."""
    texts = pc.take(arr, where)
    pieces = pc.split_pattern_regex(texts, _KEY_END)
    flat = pc.list_flatten(pieces)
    if not len(flat):
        return set()
    parents = pc.list_parent_indices(pieces)
    # (the last piece of a text ends no key; what it yields is one more candidate at most)
    keys = pc.struct_field(pc.extract_regex(flat, r'"(?P<k>(?:[^"\\]|\\.)*)$'), [0])
    found = pc.is_valid(keys)
    pairs = pc.filter(pc.binary_join_element_wise(pc.cast(parents, pa.string()), keys, "\x00"),
                      found)  # "<text index>\0<key>"
    candidates: set[int] = set()
    if pc.count_distinct(pairs).as_py() != len(pairs):
        counts = pc.value_counts(pairs)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        candidates = {int(p.split("\x00", 1)[0]) for p in repeated.to_pylist()}
    escaped = pc.filter(pc.filter(parents, found), pc.match_substring(pc.filter(keys, found),
                                                                      "\\")).to_pylist()
    return {int(where[i].as_py()) for i in candidates | set(escaped)}


class _Duplicate(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate()
    return out


def to_decimal(precision: int, scale: int) -> Callable[[pa.Array], pa.Array]:
    @_checked
    def run(arr: pa.Array) -> pa.Array:
        typ = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(
            precision, scale)
        return pc.cast(arr, typ)

    return run


CONVERTERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "int64": to_int64, "int32": to_int32, "int16": to_int16, "float64": to_float64,
    "bool": to_bool, "text": to_text, "bytes": to_bytes, "timestamp": to_timestamp,
    "timestamptz": to_timestamptz, "epoch_timestamp": to_epoch_timestamp,
    "epoch_timestamptz": to_epoch_timestamptz, "epoch_ms_timestamp": to_epoch_ms_timestamp,
    "epoch_ms_timestamptz": to_epoch_ms_timestamptz, "date": to_date, "jsonb": to_jsonb,
    "text_int64": text_to_int64, "text_int32": text_to_int32, "text_int16": text_to_int16,
    "text_float64": text_to_float64, "uuid_text": to_uuid_text, "time_text": to_time_text,
    "rails_time_text": to_rails_time_text,
    "inet_text": to_inet_text, "numeric_text": to_numeric_text,
}


@_checked
def _text_profiled(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.string()) if pa.types.is_binary(arr.type) else arr


@_checked
def _timestamp_profiled(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.timestamp("us"))


@_checked
def _jsonb_profiled(arr: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(b"\x01"), pc.cast(arr, pa.binary()),
                                       pa.scalar(b""))


# Each full conversion above is its searches, then one of these.
# For values the plan's profile read (the same snapshot): the searches it made over every
# value (NUL bytes and UTF-8 of texts, UTC offsets in naive times, duplicate keys and
# \u0000 in JSON) are not repeated. PostgreSQL still refuses NUL, invalid UTF-8 and
# \u0000, loudly, should they appear; the parse of every time stays.
PROFILED: dict[str, Callable[[pa.Array], pa.Array]] = {
    "text": _text_profiled, "timestamp": _timestamp_profiled, "jsonb": _jsonb_profiled}


def converter(name: str, profiled: bool = False) -> Callable[[pa.Array], pa.Array]:
    """The conversion ``name``; ``profiled``: the values are those the plan's profile
    checked, so searches the profile already made are skipped."""
    if profiled and name in PROFILED:
        return PROFILED[name]
    dec = decimal_of(name)
    if dec:
        return to_decimal(*dec)
    try:
        return CONVERTERS[name]
    except KeyError:
        raise ConversionError(f"unknown conversion {name!r}") from None


def first_failure(fn: Callable[[pa.Array], pa.Array], arr: pa.Array) -> int | None:
    """Index of a value ``fn`` rejects (bisecting, O(log n) calls), or None."""
    try:
        fn(arr)
        return None
    except ConversionError:
        pass
    lo, hi = 0, len(arr)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            fn(arr.slice(lo, mid - lo))
            lo = mid
        except ConversionError:
            hi = mid
    return lo
