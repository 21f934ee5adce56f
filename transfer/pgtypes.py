"""PostgreSQL type names: one strict grammar for every type name that comes from outside
the code (a type map, a ``--cast``, a plan file, a plan stored in the target).

A type name is parsed into a known base type and its integer modifiers, and rendered back
from those parts only, so nothing of the input reaches a statement as written: ``text);
DROP TABLE x; --`` is not a type name, it is an error naming what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transfer.errors import PlanError

# canonical name -> (the spellings accepted, how many modifiers it takes: (min, max))
_TYPES: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "smallint": (("smallint", "int2"), (0, 0)),
    "integer": (("integer", "int", "int4"), (0, 0)),
    "bigint": (("bigint", "int8"), (0, 0)),
    "real": (("real", "float4"), (0, 0)),
    "double precision": (("double precision", "float8", "float", "double"), (0, 0)),
    "numeric": (("numeric", "decimal"), (0, 2)),
    "text": (("text",), (0, 0)),
    "varchar": (("varchar", "character varying"), (0, 1)),
    "char": (("char", "character", "bpchar"), (0, 1)),
    "citext": (("citext",), (0, 0)),
    "boolean": (("boolean", "bool"), (0, 0)),
    "bytea": (("bytea",), (0, 0)),
    "timestamp": (("timestamp", "timestamp without time zone"), (0, 1)),
    "timestamptz": (("timestamptz", "timestamp with time zone"), (0, 1)),
    "date": (("date",), (0, 0)),
    "time": (("time", "time without time zone"), (0, 1)),
    "timetz": (("timetz", "time with time zone"), (0, 1)),
    "interval": (("interval",), (0, 1)),
    "json": (("json",), (0, 0)),
    "jsonb": (("jsonb",), (0, 0)),
    "uuid": (("uuid",), (0, 0)),
    "inet": (("inet",), (0, 0)),
    "cidr": (("cidr",), (0, 0)),
    "macaddr": (("macaddr",), (0, 0)),
    "macaddr8": (("macaddr8",), (0, 0)),
}
_SPELLING = {spelling: name for name, (spellings, _n) in _TYPES.items()
             for spelling in spellings}
# timestamp(3) with time zone: the modifier sits inside the name
_INNER = re.compile(r"(timestamp|time)\s*\(\s*(\d+)\s*\)\s*(with|without)\s+time\s+zone")
_SHAPE = re.compile(r"([a-z][a-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\))?")
# modifiers as PostgreSQL allows them
_LIMITS = {"numeric": 1000, "varchar": 10_485_760, "char": 10_485_760, "timestamp": 6,
           "timestamptz": 6, "time": 6, "timetz": 6, "interval": 6}
ACCEPTED = ", ".join(_TYPES)


@dataclass(frozen=True)
class PgType:
    name: str  # canonical base name, e.g. "numeric", "double precision"
    mods: tuple[int, ...] = ()

    def __str__(self) -> str:
        if not self.mods:
            return self.name
        return f"{self.name}({','.join(str(m) for m in self.mods)})"


def parse(text: str, where: str = "type") -> PgType:
    """The PostgreSQL type ``text`` names, or ``PlanError`` saying which names are valid."""
    raw = " ".join(str(text).lower().split())
    inner = _INNER.fullmatch(raw)
    if inner:
        raw = f"{inner[1]} {inner[3]} time zone({inner[2]})"
    m = _SHAPE.fullmatch(raw)
    name = _SPELLING.get(m[1].strip()) if m else None
    if m is None or name is None:
        raise PlanError(f"{where}: {text!r} is not a PostgreSQL type this tool writes; use one "
                        f"of {ACCEPTED} (with (n) or (p,s) where they take it).")
    mods = tuple(int(x) for x in (m[2], m[3]) if x is not None)
    low, high = _TYPES[name][1]
    limit = _LIMITS.get(name)
    bad = not low <= len(mods) <= high
    if name == "numeric" and len(mods) == 2:
        bad = bad or not (1 <= mods[0] <= 1000 and 0 <= mods[1] <= mods[0])
    elif mods and limit is not None:
        bad = bad or not (0 if name in ("timestamp", "timestamptz", "time", "timetz",
                                        "interval") else 1) <= mods[0] <= limit
    if bad:
        raise PlanError(f"{where}: {text!r} has modifiers {name} does not take or outside "
                        f"its range; e.g. numeric(12,2), varchar(255), timestamp(3).")
    return PgType(name, mods)


def canonical(text: str, where: str = "type") -> str:
    """``text`` as this tool writes it (``decimal(10, 2)`` -> ``numeric(10,2)``)."""
    return str(parse(text, where))
