"""Conversions into the application's own schema (``run --data-only``): each SQLite value,
read as ``<storage class>:<payload>`` text, becomes the text PostgreSQL's input function of
the target column's type reads as the same value, or is refused with the reason.

The rules naming which conversion serves which PostgreSQL type are data
(``type_maps/target.toml``, loaded by ``load_rules``); the conversions are here. None of
them rounds, truncates or guesses: a value that would change is refused, and the plan
names its rows before anything is written.
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import pyarrow as pa

from transfer import convert, timetext
from transfer.errors import PlanError


@dataclass(frozen=True)
class Rule:
    types: tuple[str, ...]
    conversion: str
    accepts: str
    reason: str


@dataclass(frozen=True)
class Framework:
    name: str
    tables: tuple[str, ...]
    interval: str | None = None  # the unit of an integer (or datetime) duration
    time_date: str | None = None  # the date it writes a time of day on (Rails: 2000-01-01)


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    frameworks: tuple[Framework, ...]

    def rule_for(self, base: str) -> Rule | None:
        return next((r for r in self.rules if base in r.types), None)

    def framework_of(self, tables: set[str]) -> Framework | None:
        return next((f for f in self.frameworks if set(f.tables) <= tables), None)


def load_rules() -> Rules:
    """The rules of ``type_maps/target.toml``."""
    text = resources.files("transfer.type_maps").joinpath("target.toml").read_text("utf-8")
    data = tomllib.loads(text)
    rules = tuple(Rule(tuple(r["types"]), r["conversion"], r["accepts"], r["reason"])
                  for r in data["rule"])
    unknown = [r.conversion for r in rules if r.conversion not in CONVERSIONS]
    if unknown:
        raise PlanError(f"type_maps/target.toml names unknown conversions {unknown}.")
    return Rules(rules, tuple(Framework(f["name"], tuple(f["tables"]), f.get("interval"),
                                        f.get("time_date"))
                              for f in data.get("framework", [])))


README_BEGIN = "<!-- target types: generated from type_maps/target.toml by scripts/type_table -->"
README_END = "<!-- end of target types -->"


def markdown_table(rules: Rules) -> str:
    """The rules as the README's table (the README is tested against it)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| target column type | takes from SQLite | how |", "|---|---|---|"]
    for r in rules.rules:
        types = ", ".join(f"`{t}`" if t != "enum" else "any enum" for t in r.types)
        lines.append(f"| {types} | {cell(r.accepts)} | {cell(r.reason)} |")
    frameworks = ", ".join(
        f"{f.name} ({' + '.join(f'`{t}`' for t in f.tables)}"
        + (f"; durations stored as: {f.interval}" if f.interval else "")
        + (f"; times of day stored on the date {f.time_date}" if f.time_date else "") + ")"
        for f in rules.frameworks)
    return "\n".join([*lines, "", f"Frameworks told by their tables: {frameworks}."])


@dataclass(frozen=True)
class Target:
    """What a conversion needs of its target column."""

    base: str  # the base type's name, as format_type writes it without modifiers
    length: int | None = None  # varchar(n), char(n)
    precision: tuple[int, int] | None = None  # numeric(p,s)
    labels: tuple[str, ...] = ()  # an enum's
    interval: str | None = None  # the unit of integer durations: microseconds, seconds, ...
    time_date: str | None = None  # the date the framework writes a time of day on
    bits: int = 64  # smallint 16, integer 32, bigint 64
    extra: dict[str, Any] = field(default_factory=dict)


class Refused(ValueError):
    """A value the conversion cannot carry exactly; the message says why."""


def _text(cls: str, v: str, t: Target) -> str:
    if cls == "blob":
        raise Refused("bytes in a text column")
    if "\x00" in v:
        raise Refused("a NUL character, which PostgreSQL text cannot hold")
    if t.length is not None and len(v) > t.length:
        raise Refused(f"{len(v)} characters, more than {t.base}({t.length}) holds")
    return v


def _integer(cls: str, v: str, t: Target) -> str:
    if cls not in ("integer", "text") or (cls == "text" and not re.fullmatch(r"-?[0-9]+", v)):
        raise Refused("not an integer")
    n = int(v)
    if not -(2 ** (t.bits - 1)) <= n < 2 ** (t.bits - 1):
        raise Refused(f"{n} is beyond a {t.bits}-bit integer")
    return str(n)


def _decimal(cls: str, v: str) -> Decimal:
    if cls == "real":
        return Decimal(repr(float(v)))  # (the shortest decimal that is this double)
    if cls == "integer" or (cls == "text" and re.fullmatch(
            r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", v)):
        return Decimal(v)
    raise Refused("not a number")


def _numeric(cls: str, v: str, t: Target) -> str:
    d = _decimal(cls, v)
    if not d.is_finite():
        raise Refused("not a finite number")
    if t.precision is not None:
        p, s = t.precision
        exponent = d.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > s and d != d.quantize(Decimal(1).scaleb(-s)):
            raise Refused(f"{d} has more than {s} decimals: {t.base}({p},{s}) would round it")
        if abs(d) >= Decimal(10) ** (p - s):
            raise Refused(f"{d} has more than {p - s} digits before the point")
    return format(d, "f")


def _float8(cls: str, v: str, t: Target) -> str:
    if cls == "integer":
        if abs(int(v)) > 2**53:
            raise Refused("an integer beyond 2^53, which no double holds exactly")
        return v
    if cls == "real" or cls == "text":
        if v in ("Inf", "-Inf"):
            return v.replace("Inf", "Infinity")
        x = float(_decimal(cls, v)) if cls == "text" else float(v)
        if t.base == "real" and struct.unpack("f", struct.pack("f", x))[0] != x:
            raise Refused(f"{v} has no exact 4-byte float")
        return repr(x)
    raise Refused("not a number")


def _boolean(cls: str, v: str, t: Target) -> str:
    word = v.lower() if cls in ("integer", "text") else ""
    if word not in convert.BOOL_TEXT:
        raise Refused("not a boolean")
    return "t" if convert.BOOL_TEXT[word] else "f"


def _bytea(cls: str, v: str, t: Target) -> str:
    if cls == "blob":
        return "\\x" + v.lower()
    raise Refused("not bytes")  # (text in a bytea column: its bytes are the application's)


def _uuid(cls: str, v: str, t: Target) -> str:
    h = v.lower()
    if cls == "text" and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      r"[0-9a-f]{12}", h):
        h = h.replace("-", "")
    if cls not in ("text", "blob") or not re.fullmatch(r"[0-9a-f]{32}", h):
        raise Refused("not a UUID (32 hex digits, the 36-character form or 16 bytes)")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _epoch(cls: str, v: str, zone: bool) -> str:
    n = int(v)
    unit = timetext.epoch_unit(n, n)
    if unit is None:
        raise Refused(f"{n} is not clearly epoch seconds or milliseconds")
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        seconds=n if unit == "s" else 0, milliseconds=n if unit == "ms" else 0)
    return at.isoformat() if zone else at.replace(tzinfo=None).isoformat()


def _one(fn: Callable[[pa.Array], pa.Array], v: str) -> Any:
    try:
        return fn(pa.array([v], pa.string()))[0].as_py()
    except ValueError as e:  # (timetext refuses with ValueError, Arrow with ArrowInvalid)
        raise Refused(str(e).splitlines()[0]) from None


def _timestamptz(cls: str, v: str, t: Target) -> str:
    if cls == "integer":
        return _epoch(cls, v, True)
    if cls != "text":
        raise Refused("not a time")
    value = _one(timetext.to_utc, v)
    return str(value.isoformat())


def _timestamp(cls: str, v: str, t: Target) -> str:
    if cls == "integer":
        return _epoch(cls, v, False)
    if cls != "text":
        raise Refused("not a time")
    return str(_one(timetext.to_naive, v).isoformat())


def _date(cls: str, v: str, t: Target) -> str:
    if cls != "text":
        raise Refused("not a date")
    return str(_one(timetext.to_date, v).isoformat())


def _time(cls: str, v: str, t: Target) -> str:
    if cls == "text" and t.time_date:
        v = time_of_day(v, t.time_date)
    if cls != "text" or not re.fullmatch(timetext.CLOCK, v):
        raise Refused("not a time of day (hh:mm[:ss[.ffffff]])")
    h, m = int(v[:2]), int(v[3:5])
    s = int(v[6:8]) if len(v) > 5 else 0
    if h > 23 or m > 59 or s > 59:
        raise Refused("not a time of day")
    return v


def time_of_day(v: str, day: str) -> str:
    """A framework's time of day written as a time on its fixed ``day`` (Rails:
    2000-01-01 09:30:15): the clock alone; any other text as it is."""
    return v[len(day) + 1:] if v.startswith(day + " ") else v


_UNITS = {"microseconds": 1, "milliseconds": 1000, "seconds": 1_000_000}


def _interval(cls: str, v: str, t: Target) -> str:
    if cls == "text" and re.fullmatch(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
                                      r"(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d{1,6})?S)?)?", v):
        return v  # ISO 8601, which PostgreSQL reads as written
    if cls == "integer":
        if t.interval not in _UNITS:
            raise Refused("an integer duration whose unit the data cannot tell: give "
                          "--interval-unit (Django's DurationField: microseconds)")
        return _days_and_time(int(v) * _UNITS[t.interval])
    if cls == "text" and t.interval == "datetime":  # SQLAlchemy: 1970-01-01 plus the duration
        at = _one(timetext.to_naive, v)
        delta = at - datetime(1970, 1, 1)
        return _days_and_time((delta.days * 86400 + delta.seconds) * 1_000_000
                              + delta.microseconds)
    raise Refused("not a duration (ISO 8601, or an integer in a known unit)")


def _days_and_time(micros: int) -> str:
    """A duration as the ORMs write a timedelta (days, then the time of day): 1 day, not
    24:00:00, which PostgreSQL keeps apart (adding them to a time across a DST change)."""
    td = timedelta(microseconds=micros)
    return f"{td.days} days {td.seconds} seconds {td.microseconds} microseconds"


def _json(cls: str, v: str, t: Target) -> str:
    if cls != "text":
        raise Refused("not JSON text")
    try:
        json.loads(v, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, RecursionError):
        raise Refused("not valid JSON") from None
    if t.base == "jsonb":
        if "\\u0000" in v:
            raise Refused("\\u0000 in JSON, which jsonb rejects")
        if convert.duplicate_keys(pa.array([v], pa.string())) is not None:
            raise Refused("an object with duplicate keys, of which jsonb keeps only the last")
    return v


def _inet(cls: str, v: str, t: Target) -> str:
    if cls != "text":
        raise Refused("not an address")
    try:
        if t.base == "cidr":
            return str(ipaddress.ip_network(v, strict=True))
        ipaddress.ip_interface(v)
    except ValueError:
        raise Refused(f"not an {'network' if t.base == 'cidr' else 'address'}") from None
    return v


def _macaddr(cls: str, v: str, t: Target) -> str:
    if cls != "text" or not re.fullmatch(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}", v):
        raise Refused("not a MAC address")
    return v.replace("-", ":").lower()


def _enum(cls: str, v: str, t: Target) -> str:
    if cls != "text" or v not in t.labels:
        raise Refused(f"not one of the labels of {t.base}")
    return v


CONVERSIONS: dict[str, Callable[[str, str, Target], str]] = {
    "integer": _integer, "numeric": _numeric, "float8": _float8, "float4": _float8,
    "boolean": _boolean, "text": _text, "bytea": _bytea, "uuid": _uuid,
    "timestamptz": _timestamptz, "timestamp": _timestamp, "date": _date, "time": _time,
    "interval": _interval, "json": _json, "inet": _inet, "macaddr": _macaddr, "enum": _enum,
}


def apply(name: str, target: Target, tagged: pa.Array
          ) -> tuple[pa.Array, list[tuple[int, str]]]:
    """The PostgreSQL input texts of ``tagged`` values (``<class>:<payload>``, NULL kept),
    and (index, reason) of each value refused (NULL in the output)."""
    fn = CONVERSIONS[name]
    out: list[str | None] = []
    refused: list[tuple[int, str]] = []
    for i, value in enumerate(tagged.to_pylist()):
        if value is None:
            out.append(None)
            continue
        cls, _, payload = value.partition(":")
        try:
            out.append(fn(cls, payload, target))
        except (Refused, InvalidOperation, OverflowError, ValueError) as e:
            out.append(None)
            refused.append((i, str(e) or "not carried"))
    return pa.array(out, pa.string()), refused


def tagged_expr(quoted: str) -> str:
    """SQLite's ``<storage class>:<payload>`` text of a column (a real as SQLite writes it,
    exactly; -0.0 with its sign; a blob in hex)."""
    q = quoted
    real = f"CASE WHEN {q} = 0.0 AND atan2({q}, -1.0) < 0 THEN '-0.0' ELSE CAST({q} AS TEXT) END"
    return (f"CASE WHEN {q} IS NOT NULL THEN typeof({q}) || ':' || CASE typeof({q}) "
            f"WHEN 'real' THEN {real} WHEN 'blob' THEN hex({q}) ELSE CAST({q} AS TEXT) END END")

