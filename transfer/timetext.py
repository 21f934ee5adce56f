"""Time text: the one grammar of the times sqlite2pg reads from SQLite text, used by the
profile (to decide a column's type) and by the copy (to convert its values), in bulk.

    time text = date [ ("T" | " ") clock [ zone ] ]
    date      = YYYY "-" MM "-" DD           a real Gregorian date, years 0001 to 9999
    clock     = hh ":" mm [ ":" ss [ "." 1 to 6 digits ] ]    hh 00-23, mm and ss 00-59
    zone      = "Z" | ("+" | "-") hh [ [":"] mm ]                  hh 00-23, mm 00-59

A text without a zone is naive: a timestamp column keeps it as written (its wall time),
a timestamptz column takes it as UTC; a date alone is its midnight. A text with a zone is
an instant, stored in UTC, and must fall within the years 1 to 9999 there. Anything else
is not a time here, and the column keeps its text: seven or more fraction digits
(PostgreSQL would round them), 2024-02-30 or 24:00 (moved), year 0000, julian day numbers
or epoch numbers written as text (guessed). ``verify`` implements the same grammar on its
own (``transfer.canonical.ts_micros``), on purpose.

Integers in a time column are epoch times only where their range says which unit they
count (``epoch_unit``); anything else keeps its numbers.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
DATE = YEAR + r"-[0-9]{2}-[0-9]{2}"
CLOCK = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
ZONE = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
DATE_ONLY = f"^{DATE}$"
NAIVE = f"^{DATE}(?:[T ]{CLOCK})?$"
ZONED = f"^{DATE}[T ]{CLOCK}{ZONE}$"

# Epoch integers, by unit: the range of values only that unit explains (1973-03-03 to
# 2100-01-01 in seconds; the same instants in milliseconds). 0, 2024 or a count of days
# are none of them.
EPOCH_UNITS = {"s": (100_000_000, 4_102_444_800),
               "ms": (100_000_000_000, 4_102_444_800_000)}


# microseconds since 1970 of 0001-01-01 00:00 and 9999-12-31 23:59:59.999999, UTC
_FIRST_INSTANT, _LAST_INSTANT = -62135596800_000000, 253402300799_999999


def _matching(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False)


def _all(arr: pa.Array, mask: pa.Array, what: str) -> None:
    if pc.sum(mask).as_py() != len(arr) - arr.null_count:
        raise ValueError(what)


def to_naive(arr: pa.Array) -> pa.Array:
    """Naive time texts as timestamps (wall time); ``ValueError`` for any other text."""
    _all(arr, _matching(arr, NAIVE), "a text that is not a time without a UTC offset "
         "(YYYY-MM-DD[ hh:mm[:ss[.ffffff]]])")
    return pc.cast(arr, pa.timestamp("us"))  # (refuses 2024-02-30 and 24:00)


def to_utc(arr: pa.Array) -> pa.Array:
    """Time texts as UTC instants: naive ones read as UTC, zoned ones converted."""
    zoned = _matching(arr, ZONED)
    naive = _matching(arr, NAIVE)
    _all(arr, pc.or_(zoned, naive), "a text that is not a time "
         "(YYYY-MM-DD[ hh:mm[:ss[.ffffff]][zone]])")
    dated = pc.if_else(_matching(arr, DATE_ONLY), pc.binary_join_element_wise(
        arr, " 00:00", ""), arr)
    fixed = pc.if_else(zoned, arr, pc.binary_join_element_wise(dated, "Z", ""))
    out = pc.cast(fixed, pa.timestamp("us", tz="UTC"))
    if pc.any(zoned).as_py():  # (an offset can move an instant out of the years 1-9999)
        lo, hi = (v.as_py() for v in pc.min_max(pc.cast(out, pa.int64())).values())
        if lo < _FIRST_INSTANT or hi > _LAST_INSTANT:
            raise ValueError("a time whose UTC instant falls outside the years 1 to 9999")
    return out


def to_date(arr: pa.Array) -> pa.Array:
    """Dates (YYYY-MM-DD) as dates; ``ValueError`` for any other text."""
    _all(arr, _matching(arr, DATE_ONLY), "a text that is not a date (YYYY-MM-DD)")
    return pc.cast(arr, pa.date32())


def has_zone(arr: pa.Array) -> bool:
    return bool(pc.any(_matching(arr, ZONED)).as_py())


def epoch_unit(lo: int, hi: int) -> str | None:
    """The unit integers from ``lo`` to ``hi`` count since 1970, when their range says so."""
    for unit, (low, high) in EPOCH_UNITS.items():
        if low <= lo and hi <= high:
            return unit
    return None
