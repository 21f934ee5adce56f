"""Stage 7, report: what people read (text) and what machines read (JSON).

``plan_text`` is the plan for people: a header with what needs a decision (the blockers,
what differs from the declared schema, what is not carried over) and an estimate of
``run``'s duration and of the target's size; then each rule's reason once, the tables
with their columns referring to the rules and differences by id; then the DDL. The JSON
form (``Plan.to_json``) keeps every field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transfer import ddl, pgtypes
from transfer.errors import PlanError
from transfer.model import ColumnPlan, Note, Plan, TablePlan

# -- estimates of run's duration and of the target's size ---------------------------------
# Measured on the development machine (2 cores, PostgreSQL 15 from Debian on a local
# throwaway cluster sharing the cores) on 2026-12-03, with the SaaS fixture
# (scripts/make_fixture.py, scales 0.05 and 1: 993,500 rows, 182 MiB) and three one-table
# files (1,000,000 rows of five integers and a real; 200,000 rows of 500-character text; 20,000
# 5-KB blobs). At scale 1 the plan's read and profile took 1.8 s, `run --no-verify` 7.96 s,
# `run` 14.16 s, and the target took 232 MiB (tables 176, indexes 56).
RUN_FIXED_S = 0.5  # process start, connections, staging schema, switch
# `run --no-verify` took 4.1x (SaaS) to 7.8x (integers) the time of its own profile, the
# same read and conversions of every value: the profile's time measured here adapts the
# estimate to this machine and to the data's shape
RUN_PER_PROFILE = (4.0, 8.0)
# verify hashes every row on both sides: 6.0-6.25 s per million rows on a quiet machine,
# up to 12 under load; bytea is hashed as hex by the server, 0.055 s per MiB
VERIFY_S_PER_MROW = (5.0, 9.0)
VERIFY_S_PER_BYTEA_MIB = (0.03, 0.06)
# Without a recorded profile time (a plan file saved by an older version): the profile's
# rate at scale 1, per million rows and per MiB of the source (whichever is longer)
PROFILE_S_PER_MROW = 1.8
PROFILE_S_PER_MIB = 0.01
# Sizes. SQLite: a row costs a cell pointer, its length, rowid and header (8 bytes and one
# per column) plus its values: an integer 3 bytes on average, a real 8, text of a type
# PostgreSQL stores in fixed width (a timestamp) the length below; an index entry costs
# 7 bytes and one per term, plus its keys and the rowid, in pages about 85% full. What the
# file holds beyond that is the text and blobs of the other columns, shared out evenly.
SQLITE_PAGE = 4096  # (the default page size: each table and index takes one at least)
SQLITE_ROW_BYTES = 8
SQLITE_INT_BYTES = 3
SQLITE_INDEX_ENTRY_BYTES = 7
SQLITE_INDEX_FILL = 0.85
SQLITE_TEXT_BYTES = {"timestamp": 23, "timestamptz": 25, "date": 10, "time": 12, "timetz": 15,
                     "uuid": 36, "boolean": 4, "interval": 12}
SQLITE_OTHER_TEXT_BYTES = 8  # a number or a flag written as text
# PostgreSQL: a heap tuple costs a 4-byte line pointer and a 24-byte header (32 with a
# null bitmap past 8 columns); values in their widths below, a varlena its bytes and a 1-byte
# header (4 from 127 bytes); jsonb's binary form about 1.35x the JSON text (50-character
# objects of the fixture took 68); 8 KiB pages with 8,168 bytes for tuples; rows past
# 2,032 bytes are TOASTed (uncompressed: 1,996-byte chunks, four to a page; a compressible
# text takes less). A B-tree entry costs 12 bytes plus its keys (aligned to 8), in
# leaves 90% full; pg_table_size counts at least a page, and the TOAST index of a table
# with variable-width columns.
PG_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8, "real": 4, "double precision": 8,
            "boolean": 1, "timestamp": 8, "timestamptz": 8, "date": 4, "time": 8, "timetz": 12,
            "interval": 16, "uuid": 16, "numeric": 10, "macaddr": 6, "macaddr8": 8}
PG_PAGE = 8192
PG_PAGE_SPACE = 8168
PG_TOAST_ROW = 2032
PG_TOAST_CHUNK = 1996
PG_TUPLE_BYTES = 28
PG_JSONB_FACTOR = 1.35
PG_INDEX_ENTRY_BYTES = 12
PG_INDEX_FILL = 0.9
PG_INDEX_MIN = 2 * PG_PAGE


@dataclass
class Estimate:
    """``run``'s duration (seconds, a range; verify's share) and the target's size."""

    run_s: tuple[float, float]
    verify_s: tuple[float, float]
    table_bytes: dict[str, int] = field(default_factory=dict)  # heap (and TOAST) by table
    index_bytes: dict[str, int] = field(default_factory=dict)  # indexes by table
    basis: str = ""

    @property
    def target_bytes(self) -> int:
        return sum(self.table_bytes.values()) + sum(self.index_bytes.values())


def _base(pg_type: str) -> str:
    try:
        return pgtypes.parse(pg_type).name
    except PlanError:  # (a plan's types are checked on load; this is only an estimate)
        return pg_type.split("(")[0].strip().lower()


def _counts(c: ColumnPlan, rows: int) -> dict[str, float]:
    """The column's values by storage class, scaled to the table's rows (counted by a
    sampled profile; none counted: taken as text)."""
    seen = sum(c.storage.values())
    if not seen:
        return {"text": float(rows)} if rows else {}
    return {k: n * rows / seen for k, n in c.storage.items()}


def _max_chars(pg_type: str) -> int | None:
    t = pgtypes.parse(pg_type) if _base(pg_type) in ("varchar", "char") else None
    return t.mods[0] if t is not None and t.mods else None


def _index_terms(t: TablePlan) -> list[list[ColumnPlan | None]]:
    """Each PostgreSQL index's terms (None: an expression), the primary key's first."""
    by_pg = {c.pg_name: c for c in t.columns}
    by_name = {c.name: c for c in t.columns}
    out = [[by_pg.get(k) for k in t.pk]] if t.pk else []
    out += [[by_name.get(term.column) if term.column else None for term in ix.terms]
            for ix in t.indexes]
    return out


def _sqlite_has_pk_index(t: TablePlan) -> bool:
    """SQLite keeps an index for a primary key that is neither the rowid nor the table."""
    return bool(t.pk) and t.rowid is not None and not any(c.identity for c in t.columns)


def _sqlite_known(c: ColumnPlan, rows: int) -> tuple[float, float]:
    """(bytes of the column's values the SQLite file holds that the estimate can tell, the
    number of values of variable width, whose length it cannot)."""
    n = _counts(c, rows)
    values = n.get("text", 0) + n.get("blob", 0)
    known = 0.0 if c.identity else (  # (the rowid alias is stored as the rowid)
        n.get("integer", 0) * SQLITE_INT_BYTES + n.get("real", 0) * 8)
    base = _base(c.pg_type)
    if base in PG_WIDTH:
        return known + values * SQLITE_TEXT_BYTES.get(base, SQLITE_OTHER_TEXT_BYTES), 0.0
    return known, values


def _sizes(plan: Plan) -> tuple[dict[str, int], dict[str, int], float]:
    """(table bytes, index bytes, bytea bytes) PostgreSQL will hold, estimated."""
    # the SQLite file's bytes accounted for by pages, row overheads, numbers, keys (the
    # schema's page, a page at least for each table and index, and each object not carried)
    known = float(SQLITE_PAGE * (1 + len(plan.not_carried)))
    slots = 0.0  # values of variable width the rest of the file is shared among
    for t in plan.tables:
        known += SQLITE_PAGE * (1 + len(t.indexes)) + t.rows * (SQLITE_ROW_BYTES
                                                               + len(t.columns))
        for c in t.columns:
            k, v = _sqlite_known(c, t.rows)
            known += k
            slots += v
        for terms in _index_terms(t)[0 if _sqlite_has_pk_index(t) or not t.pk else 1:]:
            entries = float(t.rows) * (SQLITE_INDEX_ENTRY_BYTES + len(terms))
            for term in terms:
                k, v = _sqlite_known(term, t.rows) if term is not None else (8.0 * t.rows, 0.0)
                entries += k
                slots += v / SQLITE_INDEX_FILL
            known += entries / SQLITE_INDEX_FILL
    rest = max(0.0, float(plan.source.get("size") or 0) - known)
    avg = rest / slots if slots else 0.0

    def width(c: ColumnPlan) -> float:
        """Bytes of one non-null value of ``c`` in PostgreSQL."""
        base = _base(c.pg_type)
        if base in PG_WIDTH:
            return PG_WIDTH[base]
        most = _max_chars(c.pg_type)
        chars = avg if most is None else min(avg, most)
        chars *= PG_JSONB_FACTOR if base == "jsonb" else 1
        return chars + (1 if chars < 127 else 4)

    tables: dict[str, int] = {}
    indexes: dict[str, int] = {}
    bytea = 0.0
    for t in plan.tables:
        nulls = any(_counts(c, t.rows).get("null") for c in t.columns)
        row = float(PG_TUPLE_BYTES + (8 * math.ceil(len(t.columns) / 64) if nulls
                                      and len(t.columns) > 8 else 0))
        varying = False
        for c in t.columns:
            share = 1 - _counts(c, t.rows).get("null", 0) / t.rows if t.rows else 0.0
            row += share * width(c)
            varying = varying or _base(c.pg_type) not in PG_WIDTH
            if _base(c.pg_type) == "bytea":
                bytea += t.rows * share * width(c)
        row = 8 * math.ceil(row / 8) + (4 if varying else 0)  # alignment
        if not t.rows:
            heap = 0.0
        elif row <= PG_TOAST_ROW:
            heap = float(math.ceil(t.rows / max(1, PG_PAGE_SPACE // int(row))) * PG_PAGE)
        else:  # in TOAST chunks, four to a page
            heap = t.rows * math.ceil(row / PG_TOAST_CHUNK) * PG_PAGE / 4
        tables[t.name] = int(max(heap, PG_PAGE) + (PG_PAGE if varying else 0))
        total = 0
        for terms in _index_terms(t):
            keys = sum(8.0 if c is None else width(c) for c in terms)
            entry = PG_INDEX_ENTRY_BYTES + 8 * math.ceil(keys / 8)
            total += max(PG_INDEX_MIN, int(t.rows * entry / PG_INDEX_FILL * PG_PAGE
                                           / PG_PAGE_SPACE))
        indexes[t.name] = total
    return tables, indexes, bytea


def estimate(plan: Plan) -> Estimate | None:
    """``run``'s duration and the target's size, from the profile and the measured rates
    above; None for a sampled profile (its row counts are those read)."""
    if plan.source.get("sampled"):
        return None
    tables, indexes, bytea = _sizes(plan)
    rows = sum(t.rows for t in plan.tables)
    mib = float(plan.source.get("size") or 0) / 2**20
    profiled = plan.source.get("profile_seconds")
    if isinstance(profiled, int | float) and profiled >= 0:
        profile = float(profiled)
        basis = (f"run {RUN_PER_PROFILE[0]:g}-{RUN_PER_PROFILE[1]:g}x this plan's profile of "
                 f"every row ({_duration(profile)} here) plus verify at "
                 f"{VERIFY_S_PER_MROW[0]:g}-{VERIFY_S_PER_MROW[1]:g} s per million rows, as "
                 "measured on the benchmarks")
    else:
        profile = max(rows / 1e6 * PROFILE_S_PER_MROW, mib * PROFILE_S_PER_MIB)
        basis = ("the rates measured on the development machine's benchmarks (this plan "
                 "has no profile time)")
    verify = tuple(rows / 1e6 * v + bytea / 2**20 * b
                   for v, b in zip(VERIFY_S_PER_MROW, VERIFY_S_PER_BYTEA_MIB, strict=True))
    run = tuple(RUN_FIXED_S + profile * k + v
                for k, v in zip(RUN_PER_PROFILE, verify, strict=True))
    return Estimate((run[0], run[1]), (verify[0], verify[1]), tables, indexes, basis)


def _duration(s: float) -> str:
    if s < 0.1:
        return f"{s:.2f} s"
    if s < 10:
        return f"{s:.1f} s"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _span(lo: float, hi: float) -> str:
    """A range of seconds in one unit: 'about 12-22 s', 'about 3-6 min'."""
    if hi < 1.5:
        return "about 1 s or less"
    if hi < 120:
        return f"about {max(1, round(lo))}-{round(hi)} s"
    if hi < 7200:
        return f"about {max(1, round(lo / 60))}-{round(hi / 60)} min"
    return f"about {lo / 3600:.1f}-{hi / 3600:.1f} h"


def _size(n: float) -> str:
    if n < 2**20:
        return f"{max(1, round(n / 1024))} KiB"
    mib = n / 2**20
    if mib < 10:
        return f"{mib:.1f} MiB"
    if mib < 10 * 1024:
        return f"{mib:.0f} MiB"
    return f"{mib / 1024:.1f} GiB"


# -- the text -------------------------------------------------------------------------------
def _general(n: Note) -> bool:
    """A note about the whole file or run ('(live)', '(the file)'), not one object."""
    return n.table.startswith("(") and n.column is None


def _flags(t: TablePlan, c: ColumnPlan) -> str:
    flags = []
    if c.identity:
        flags.append("identity")
    if c.name in t.pk or c.pg_name in t.pk:
        flags.append("pk")
    if not c.nullable and not c.identity:
        flags.append("not null")
    if c.default is not None:
        flags.append(f"default {c.default}")
    return ", ".join(flags)


def _align(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Columns padded to their widest cell (the last one is not padded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [(indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False))
             + "  " + r[-1]).rstrip() for r in rows]


def plan_text(plan: Plan) -> str:
    """The plan for people: what it migrates and an estimate of run; the blockers, the
    differences from the declared schema (numbered), what is not carried over; each rule's
    reason once (numbered); the tables, their columns referring to both; the DDL."""
    est = estimate(plan)
    casts = [Note(t.name, c.name, f"--cast {c.cast} (declared {c.declared or 'untyped'})",
                  kind="type") for t in plan.tables for c in t.columns if c.cast]
    differs = [n for n in plan.warnings if not _general(n)] + casts
    ids = {id(n): f"[d{i}]" for i, n in enumerate(differs, 1)}
    out = _summary(plan, est)
    out += _decisions(plan, differs, ids)
    # each rule's reason once; a column decided otherwise (by the data, or a --cast) refers
    # to its difference instead
    decided = {(n.table, n.column) for n in casts} | {
        (t.name, c.name) for t in plan.tables for c in t.columns
        if c.decision and any(n.message == c.decision for n in plan.warnings
                              if n.table == t.name and n.column == c.name)}
    rules: dict[str, str] = {}
    used: dict[str, int] = {}
    for t in plan.tables:
        for c in t.columns:
            if (t.name, c.name) not in decided:
                rid = rules.setdefault(c.reason, f"[r{len(rules) + 1}]")
                used[rid] = used.get(rid, 0) + 1
    if rules:
        out.append("Rules (the reason for each column's type; the columns below refer to "
                   "them, or to the differences above)")
        out += [f"  {rid} {reason}  ({used[rid]} column{'s' if used[rid] != 1 else ''})"
                for reason, rid in rules.items()]
        out.append("")
    about: dict[tuple[str, str | None], list[Note]] = {}
    for n in differs:
        about.setdefault((n.table, n.column), []).append(n)
    for t in plan.tables:
        out.append(_table_head(t, est))
        cells = []
        for c in t.columns:
            refs = [ids[id(n)] for n in about.get((t.name, c.name), [])]
            if (t.name, c.name) not in decided:
                refs.insert(0, rules[c.reason])
            cells.append([c.name, c.declared or "(untyped)", f"-> {c.pg_type}", " ".join(refs),
                          _flags(t, c)])
        out += _align(_runs(cells))
        others = [f"{ids[id(n)]} {n.kind}" for n in about.get((t.name, None), [])]
        if others:
            out.append(f"  also {', '.join(others)}")
        out.append("")
    out.append("DDL (what run executes; --format sql prints it alone)")
    out.append(ddl.script(plan))
    out.append(f"{len(plan.blockers)} blocker(s): fix them before 'sqlite2pg run'."
               if plan.blockers else "No blockers: 'sqlite2pg run' can execute this plan.")
    return "\n".join(out)


def _summary(plan: Plan, est: Estimate | None) -> list[str]:
    """What the plan migrates, and the estimate of run."""
    what = [_count(len(plan.tables), "table"), f"{sum(t.rows for t in plan.tables):,} rows"]
    if plan.views:
        what.insert(1, _count(len(plan.views), "view"))
    if plan.source.get("sampled"):
        what[-1] += " read by a sampled profile"
    if plan.source.get("size") is not None:
        what.append(f"{_size(float(plan.source['size']))} file")
    out = [f"sqlite2pg plan for {plan.source['path']}: {', '.join(what)}"]
    if est is None:
        return [*out, "  no estimate of run's duration or the target's size: the profile "
                "read a sample (--sample), whose row counts are those read", ""]
    verify = (f" ({_span(*est.verify_s)} of it; --no-verify skips it)"
              if est.verify_s[1] >= 1.5 else "")
    return [*out,
            f"  run: {_span(*est.run_s)} on this machine, verify included{verify}",
            f"  target: about {_size(est.target_bytes)} (tables "
            f"{_size(sum(est.table_bytes.values()))}, indexes "
            f"{_size(sum(est.index_bytes.values()))})",
            f"  (estimates: {est.basis}; target from the column types, rows and file size)",
            ""]


def _decisions(plan: Plan, differs: list[Note], ids: dict[int, str]) -> list[str]:
    """The blockers, the differences from the declared schema (numbered), what is not
    carried over, and the notes about the whole file or run."""
    out = []
    if plan.blockers:
        out.append(f"Blockers ({len(plan.blockers)}): run would fail on these")
        out += [f"  - {n}" for n in plan.blockers]
    else:
        out.append("Blockers: none")
    if differs:
        width = max(len(n.kind) for n in differs)
        ref = max(len(r) for r in ids.values())
        out.append(f"Differs from the declared schema ({len(differs)})")
        out += [f"  {ids[id(n)]:<{ref}} {n.kind:<{width}}  {n}" for n in differs]
    else:
        out.append("Differs from the declared schema: none")
    if plan.not_carried:
        out.append(f"Not carried over ({len(plan.not_carried)})")
        out += [f"  - {n}" for n in plan.not_carried]
    general = [n for n in plan.warnings if _general(n)]
    if general:
        out.append(f"Notes ({len(general)})")
        out += [f"  - {n}" for n in general]
    return [*out, ""]


def _table_head(t: TablePlan, est: Estimate | None) -> str:
    head = f"table {t.name}"
    if t.pg_name != t.name:
        head += f" -> {t.pg_name}"
    head += f"  ({_count(t.rows, 'row')}"
    if est is not None:
        ix = est.index_bytes.get(t.name, 0)
        head += (f", about {_size(est.table_bytes.get(t.name, 0))} and "
                 + (f"{_size(ix)} of indexes" if ix else "no index"))
    if t.tenant_key:
        head += f"; tenant key {t.tenant_key}"
    if t.tenant_order:
        head += f", copied in ({t.tenant_order}, rowid) order"
    return head + ")"


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' if n != 1 else ''}"


def _runs(cells: list[list[str]], least: int = 4) -> list[list[str]]:
    """Runs of ``least`` or more consecutive columns alike but for their names, as one line
    ('c000 .. c329 (330 columns)')."""
    out: list[list[str]] = []
    i = 0
    while i < len(cells):
        j = i
        while j + 1 < len(cells) and cells[j + 1][1:] == cells[i][1:]:
            j += 1
        if j - i + 1 >= least:
            out.append([f"{cells[i][0]} .. {cells[j][0]} ({j - i + 1} columns)", *cells[i][1:]])
        else:
            out += cells[i:j + 1]
        i = j + 1
    return out
