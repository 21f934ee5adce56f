"""Stage 1, catalog: read the SQLite schema into plain data.

PRAGMAs are queried as table-valued functions with bound parameters
(``pragma_table_xinfo(?)``), so no name is ever spliced into SQL; what PRAGMAs do not
expose is read from the CREATE statement with ``transfer.sqltext``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from transfer import sqltext

# Names SQLite uses for its own tables; never migrated as data.
# The live cutover's own tables in the source (transfer.capture), no part of the application.
CAPTURE_LOG = "sqlite2pg_changes"
CAPTURE_READERS = "sqlite2pg_readers"
CAPTURE_TABLES = {CAPTURE_LOG: "sqlite2pg's change log (a live cutover's capture)",
                  CAPTURE_READERS: "sqlite2pg's live runs' positions in the change log"}
INTERNAL_TABLES = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3",
                   "sqlite_stat4")


@dataclass
class Column:
    name: str
    declared: str  # declared type, as written ("" when untyped)
    notnull: bool
    default: str | None  # default expression as SQLite text
    pk: int  # 1-based position in the primary key, 0 if not part of it
    hidden: int  # 0 normal, 1 hidden (virtual table), 2 generated VIRTUAL, 3 generated STORED
    collation: str | None = None
    generated: str | None = None  # generation expression for hidden 2/3

    @property
    def is_generated(self) -> bool:
        return self.hidden in (2, 3)

    @property
    def affinity(self) -> str:
        return affinity(self.declared)


def affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (its rules 1-5, in order)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


@dataclass
class ForeignKey:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]  # empty in SQLite means "the parent's primary key"; filled in here
    on_update: str
    on_delete: str
    deferrable: str = ""  # "", "DEFERRABLE INITIALLY DEFERRED", ...
    name: str | None = None  # its CONSTRAINT name


@dataclass
class IndexTerm:
    column: str | None  # None for an expression
    expression: str | None  # SQLite expression text for expression terms
    desc: bool
    collation: str | None


@dataclass
class Index:
    name: str
    unique: bool
    origin: str  # "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY
    terms: list[IndexTerm]
    where: str | None  # partial index predicate, SQLite text


@dataclass
class Table:
    name: str
    sql: str
    kind: str  # "table" or "virtual"
    columns: list[Column]
    strict: bool = False
    without_rowid: bool = False
    rowid_alias: str | None = None  # the INTEGER PRIMARY KEY column, if any
    autoincrement: bool = False
    sequence: int | None = None  # sqlite_sequence value
    pk: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    # names given by CONSTRAINT clauses (kept for the application's next migration)
    check_names: list[str | None] = field(default_factory=list)  # one per check
    pk_name: str | None = None
    unique_names: dict[tuple[str, ...], str] = field(default_factory=dict)  # lower columns
    fk_names: list[str | None] = field(default_factory=list)  # in REFERENCES order
    module: str | None = None  # virtual table module (fts5, rtree, ...)
    unreadable: str | None = None  # why SQLite cannot read this virtual table

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass
class View:
    name: str
    sql: str


@dataclass
class Trigger:
    name: str
    table: str
    sql: str


@dataclass
class Catalog:
    tables: list[Table]
    views: list[View]
    triggers: list[Trigger]
    skipped: list[tuple[str, str]]  # (name, why): shadow and internal tables

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


def read_catalog(conn: sqlite3.Connection) -> Catalog:
    """Read every table, index, view and trigger of the ``main`` schema."""
    rows = conn.execute(
        "SELECT name, type, ncol, wr, strict FROM pragma_table_list WHERE schema = 'main' "
        "ORDER BY name"
    ).fetchall()
    master = {
        (r[0], r[1]): r[2]
        for r in conn.execute("SELECT name, type, sql FROM sqlite_master")
    }
    sequences = {}
    if any(name == "sqlite_sequence" for name, *_ in rows):
        sequences = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())

    tables: list[Table] = []
    skipped: list[tuple[str, str]] = []
    for name, kind, _ncol, wr, strict in rows:
        if kind == "view":
            continue
        if name in INTERNAL_TABLES or name.startswith("sqlite_"):
            if name not in ("sqlite_sequence", "sqlite_schema", "sqlite_temp_schema"):
                skipped.append((name, "SQLite internal table (query-planner statistics)"))
            continue
        if name in CAPTURE_TABLES:
            skipped.append((name, CAPTURE_TABLES[name]))
            continue
        if kind == "shadow":
            skipped.append((name, "shadow table of a virtual table; its content arrives "
                                  "through the virtual table"))
            continue
        sql = master.get((name, "table")) or ""
        table = Table(name=name, sql=sql, kind="virtual" if kind == "virtual" else "table",
                      columns=[], strict=bool(strict), without_rowid=bool(wr))
        if table.kind == "virtual":
            try:  # (a missing module or content table fails its first read, not before)
                _read_table(conn, table, sequences)
                conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {sqltext.quote_ident(name)} "
                             "LIMIT 1)").fetchone()
            except sqlite3.DatabaseError as e:
                table.unreadable = str(e)
                table.module = table.module or _module(sql)
            tables.append(table)
            continue
        _read_table(conn, table, sequences)
        tables.append(table)

    # (in creation order: a view comes after the views it reads)
    views = [View(n, s) for n, s in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'view' AND sql IS NOT NULL "
        "ORDER BY rowid")]
    triggers = [  # (the capture's own triggers are no part of the application)
        Trigger(r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND "
            "substr(name, 1, 18) <> 'sqlite2pg_capture_' ORDER BY name"
        )
    ]
    _resolve_fk_targets(tables)
    return Catalog(tables=tables, views=views, triggers=triggers, skipped=skipped)


def _read_table(conn: sqlite3.Connection, table: Table, sequences: dict[str, int]) -> None:
    for cid, name, declared, notnull, default, pk, hidden in conn.execute(
        "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?)",
        (table.name,),
    ):
        del cid
        table.columns.append(Column(name=name, declared=declared or "", notnull=bool(notnull),
                                    default=default, pk=pk, hidden=hidden))
    if table.kind == "virtual":
        table.columns = [c for c in table.columns if c.hidden == 0]
        table.module = _module(table.sql)
        return

    table.pk = [c.name for c in sorted((c for c in table.columns if c.pk), key=lambda c: c.pk)]
    _parse_create_table(table)
    if len(table.pk) == 1 and not table.without_rowid:
        col = table.column(table.pk[0])
        # Only the exact type name INTEGER makes a rowid alias (and not "INTEGER PRIMARY KEY
        # DESC", a documented quirk, which the tokenizer pass flags by clearing it).
        if col.declared.upper() == "INTEGER" and table.rowid_alias != "":
            table.rowid_alias = col.name
        else:
            table.rowid_alias = None
    else:
        table.rowid_alias = None
    if table.name in sequences:
        table.sequence = int(sequences[table.name])

    fks: dict[int, ForeignKey] = {}
    for fid, _seq, ref_table, from_col, to_col, on_update, on_delete, _match in conn.execute(
        "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" "
        "FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        (table.name,),
    ):
        fk = fks.setdefault(fid, ForeignKey([], ref_table, [], on_update, on_delete))
        fk.columns.append(from_col)
        if to_col is not None:
            fk.ref_columns.append(to_col)
    table.foreign_keys = [fks[k] for k in sorted(fks, reverse=True)]  # declaration order
    _attach_deferrable(table)

    index_sql = dict(conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table.name,)
    ).fetchall())
    for _seq, iname, unique, origin, partial in conn.execute(
        "SELECT seq, name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY seq DESC",
        (table.name,),
    ):
        terms = []
        for _sn, cid, cname, desc, coll, key in conn.execute(
            "SELECT seqno, cid, name, \"desc\", coll, key FROM pragma_index_xinfo(?) "
            "ORDER BY seqno",
            (iname,),
        ):
            if key:
                terms.append(IndexTerm(column=cname if cid >= 0 else None,
                                       expression=None, desc=bool(desc),
                                       collation=coll if coll and coll != "BINARY" else None))
        idx = Index(name=iname, unique=bool(unique), origin=origin, terms=terms, where=None)
        sql = index_sql.get(iname)
        if sql:
            _parse_create_index(sql, idx, bool(partial))
        table.indexes.append(idx)


def _module(create_sql: str) -> str | None:
    """The module of a CREATE VIRTUAL TABLE statement (fts5, rtree, ...)."""
    toks = sqltext.tokenize(create_sql)
    for k, t in enumerate(toks):
        if t.upper == "USING" and k + 1 < len(toks):
            return toks[k + 1].text.lower()
    return None


def _parse_create_table(table: Table) -> None:
    """Collations, generated expressions, CHECKs and AUTOINCREMENT from the CREATE text."""
    sql = table.sql
    body = sqltext.body_tokens(sql)
    by_name = {c.name.lower(): c for c in table.columns}
    constraint_words = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
                        "COLLATE", "REFERENCES", "GENERATED", "AS"}
    for part in sqltext.split_top_level(body):
        head = part[0].upper
        _constraint_names(table, part, sql, head in ("CONSTRAINT", "PRIMARY", "UNIQUE",
                                                      "CHECK", "FOREIGN"))
        if head in ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
            continue
        col = by_name.get(part[0].name.lower())
        if col is None:
            continue
        k = 1
        while k < len(part) and part[k].upper not in constraint_words:
            k += 1
        while k < len(part):
            t = part[k]
            if t.upper == "COLLATE" and k + 1 < len(part):
                col.collation = part[k + 1].name.upper()
                k += 2
            elif t.upper == "AS" and k + 1 < len(part) and part[k + 1].kind == "lparen":
                end = sqltext.matching_paren(part, k + 1)
                col.generated = sqltext.text_of(sql, part[k + 2 : end])
                k = end + 1
            elif t.upper == "CHECK" and k + 1 < len(part) and part[k + 1].kind == "lparen":
                k = sqltext.matching_paren(part, k + 1) + 1  # (read by _constraint_names)
            elif t.upper == "AUTOINCREMENT":
                table.autoincrement = True
                k += 1
            elif t.upper == "PRIMARY" and k + 2 < len(part) and part[k + 2].upper == "DESC":
                table.rowid_alias = ""  # INTEGER PRIMARY KEY DESC is not a rowid alias
                k += 3
            else:
                k += 1


def _constraint_names(table: Table, part: list[sqltext.Token], sql: str, whole: bool) -> None:
    """The CHECKs of one column or table constraint, and the names their CONSTRAINT clauses
    give to them, to the primary key, to UNIQUE constraints and to foreign keys."""
    pending: str | None = None
    k = 0 if whole else 1
    while k < len(part):
        t = part[k]
        if t.upper == "CONSTRAINT" and k + 1 < len(part):
            pending = part[k + 1].name
            k += 2
            continue
        if t.upper == "CHECK" and k + 1 < len(part) and part[k + 1].kind == "lparen":
            end = sqltext.matching_paren(part, k + 1)
            table.checks.append(sqltext.text_of(sql, part[k + 2 : end]))
            table.check_names.append(pending)
            pending, k = None, end + 1
            continue
        if t.upper in ("PRIMARY", "UNIQUE"):
            cols: tuple[str, ...] = (part[0].name.lower(),)
            nxt = next((j for j in range(k + 1, len(part)) if part[j].kind == "lparen"), None)
            if whole and nxt is not None:
                cols = tuple(p[0].name.lower() for p in sqltext.split_top_level(
                    part[nxt + 1 : sqltext.matching_paren(part, nxt)]) if p)
            if pending is not None:
                if t.upper == "PRIMARY":
                    table.pk_name = pending
                else:
                    table.unique_names[cols] = pending
            pending = None
        elif t.upper in ("REFERENCES", "FOREIGN"):
            table.fk_names.append(pending)
            pending = None
            if t.upper == "FOREIGN":  # (its REFERENCES is the same constraint)
                k = next((j for j in range(k + 1, len(part))
                          if part[j].upper == "REFERENCES"), len(part))
        k += 1


def _attach_deferrable(table: Table) -> None:
    """PRAGMA foreign_key_list omits DEFERRABLE; read it from each REFERENCES clause."""
    toks = sqltext.tokenize(table.sql)
    clauses: list[tuple[str, str]] = []  # (referenced table lower, deferrable text)
    for k, t in enumerate(toks):
        if t.upper != "REFERENCES" or k + 1 >= len(toks):
            continue
        ref = toks[k + 1].name.lower()
        j = k + 2
        deferrable = ""
        while j < len(toks) and not (toks[j].kind == "op" and toks[j].text == ","):
            if toks[j].upper == "REFERENCES":
                break
            if toks[j].upper == "DEFERRABLE" or (
                toks[j].upper == "NOT" and j + 1 < len(toks) and toks[j + 1].upper == "DEFERRABLE"
            ):
                words = []
                m = j
                while m < len(toks) and toks[m].upper in (
                    "NOT", "DEFERRABLE", "INITIALLY", "DEFERRED", "IMMEDIATE"
                ):
                    words.append(toks[m].upper)
                    m += 1
                deferrable = " ".join(words)
                break
            j += 1
        clauses.append((ref, deferrable))
    for fk, (ref, deferrable), name in zip(table.foreign_keys, clauses,
                                           table.fk_names + [None] * len(clauses),
                                           strict=False):
        if fk.ref_table.lower() == ref:
            fk.deferrable = deferrable
            fk.name = name


def _parse_create_index(sql: str, idx: Index, partial: bool) -> None:
    toks = sqltext.tokenize(sql)
    for k, t in enumerate(toks):
        if t.kind == "lparen":
            end = sqltext.matching_paren(toks, k)
            parts = sqltext.split_top_level(toks[k + 1 : end])
            for term, part in zip(idx.terms, parts, strict=False):
                if term.column is None:
                    # Strip trailing COLLATE x / ASC / DESC from the expression text.
                    m = len(part)
                    while m > 0 and part[m - 1].upper in ("ASC", "DESC"):
                        m -= 1
                    if m >= 2 and part[m - 2].upper == "COLLATE":
                        m -= 2
                    term.expression = sqltext.text_of(sql, part[:m])
            if partial:
                rest = toks[end + 1 :]
                if rest and rest[0].upper == "WHERE":
                    idx.where = sqltext.text_of(sql, rest[1:])
            return


def _resolve_fk_targets(tables: list[Table]) -> None:
    """An FK with no parent columns refers to the parent's primary key."""
    by_name = {t.name.lower(): t for t in tables}
    for t in tables:
        for fk in t.foreign_keys:
            parent = by_name.get(fk.ref_table.lower())
            if parent is not None:
                fk.ref_table = parent.name
                if not fk.ref_columns:
                    fk.ref_columns = list(parent.pk) or (
                        [parent.rowid_alias] if parent.rowid_alias else []
                    )
