"""Stage 2, plan, continued: what ties the planned tables together and stands on them.

``KeyPlanner`` is the part of the ``Planner`` (``transfer.plan``) that works on tables whose
columns are decided: primary keys, indexes and CHECKs (each translated as ``run`` will: one
it refuses is not carried; a key or unique index whose values become equal once mapped is
made non-unique; a CHECK the stored rows fail is added NOT VALID), COLLATE NOCASE columns
made citext, foreign keys (the parent's key and the column types checked, rows without a
parent counted), the order of the tables (parents first, from the tenant root) and the
views. It keeps no state of its own: it writes the planner's warnings, notes and names.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from typing import Any

from transfer import ddl, sqltext
from transfer import profile as profile_mod
from transfer.catalog import Catalog, Table
from transfer.model import (
    PLAN_FORMAT,
    CheckPlan,
    ForeignKeyPlan,
    IndexPlan,
    NameSpace,
    Note,
    Plan,
    TablePlan,
    TermPlan,
    ViewPlan,
    pg_identifier,
)
from transfer.profile import TableProfile, row_label, row_ref
from transfer.sqltext import quote_ident

TEXT_TYPES = ("text", "varchar")


class KeyPlanner:
    """The keys, indexes, checks, NOCASE columns, foreign keys, table order and views of
    the ``Planner``, which inherits them and holds the state below."""

    conn: Any
    cat: Catalog
    profiles: dict[str, TableProfile]
    framework: str | None
    nocase: str
    names: NameSpace
    warnings: list[Note]
    not_carried: list[Note]

    # -- keys, indexes, checks ----------------------------------------------------------
    def plan_keys(self, t: Table, tp: TablePlan) -> None:
        prof = self.profiles[t.name]
        names = {c.name.lower(): c.pg_name for c in tp.columns}
        pk_cols = [names[c.lower()] for c in t.pk]
        pk_is_pk = True
        if pk_cols and prof.pk_nulls and not t.rowid_alias:
            pk_is_pk = False
            self.warnings.append(Note(t.name, None, f"primary key ({', '.join(t.pk)}) holds NULL "
                                      f"in {prof.pk_nulls} rows (a SQLite quirk): created as a "
                                      "UNIQUE index instead of a primary key", kind="key"))
        merged_pk = self.merged_keys(t, tp, t.pk) if pk_cols and pk_is_pk else []
        if merged_pk:
            pk_is_pk = False
            self.warnings.append(Note(t.name, None, f"primary key ({', '.join(t.pk)}) holds "
                                      "values SQLite keeps apart (e.g. 1 and '1') that are "
                                      "equal once mapped to one PostgreSQL type: created as a "
                                      "non-unique index instead", merged_pk, kind="key"))
        if pk_cols and pk_is_pk:
            tp.pk = pk_cols
            tp.pk_name = self.names.claim(t.pk_name or f"{tp.pg_name}_pkey")
            for c in tp.columns:
                if c.pg_name in pk_cols:
                    c.nullable = False
            collated = [tp.column(c).collation for c in t.pk]
            if any(collated):
                # (a key compares bytes in PostgreSQL: SQLite's own uniqueness kept beside it)
                which = next(c for c in collated if c).lower()
                wanted = f"{tp.pg_name}_{'_'.join(pk_cols)}_{which}_key"
                tp.indexes.append(IndexPlan(
                    name=f"{t.name} primary key", pg_name=self.names.claim(wanted),
                    unique=True, terms=[TermPlan(c, None, False, coll)
                                        for c, coll in zip(t.pk, collated, strict=True)],
                    where=None, constraint=False))
                self.warnings.append(Note(t.name, None, f"primary key ({', '.join(t.pk)}) "
                                          "compares under COLLATE NOCASE or RTRIM in SQLite; a "
                                          "PostgreSQL key compares bytes: the key stays, and a "
                                          "unique index on the key as SQLite compares it keeps "
                                          "SQLite's uniqueness", kind="key"))
        for idx in reversed(t.indexes):
            if idx.origin == "pk" and pk_is_pk:
                continue
            terms = [TermPlan(term.column, term.expression, term.desc,
                              term.collation if term.collation in ("NOCASE", "RTRIM") else None)
                     for term in idx.terms]
            plain = all(term.column and not term.desc and not term.collation
                        and tp.column(term.column).pg_type != "citext" for term in terms)
            unique = idx.unique and not (idx.origin == "pk" and merged_pk)
            if unique and idx.origin != "pk" and all(term.column for term in idx.terms) and (
                    merged := self.merged_keys(t, tp, [str(term.column) for term in idx.terms])):
                unique = False
                self.warnings.append(Note(t.name, None, f"unique index {idx.name} holds values "
                                          "SQLite keeps apart (e.g. 1 and '1') that are equal "
                                          "once mapped to one PostgreSQL type: created "
                                          "non-unique", merged, kind="index"))
            # a UNIQUE constraint stays one (so that the next migration's DROP CONSTRAINT
            # works); so does a unique index Django made for unique_together (a constraint
            # in Django's PostgreSQL schema)
            made_by_django = self.framework == "django" and idx.origin == "c" and \
                idx.name.endswith("_uniq")
            constraint = (idx.origin in ("u", "pk") or made_by_django) and plain and \
                idx.where is None and unique
            wanted = idx.name
            if idx.name.startswith("sqlite_autoindex_"):
                columns = tuple(str(term.column).lower() for term in idx.terms)
                wanted = (t.pk_name if idx.origin == "pk" else t.unique_names.get(columns)) \
                    or f"{tp.pg_name}_{'_'.join(term.column or 'expr' for term in idx.terms)}_key"
            ix = IndexPlan(name=idx.name, pg_name=pg_identifier(wanted), unique=unique,
                           terms=terms, where=idx.where, constraint=constraint)
            try:  # (translated as the run will: what it refuses is not carried)
                ddl.indexes(replace(tp, indexes=[ix]))
            except ddl.NotCarried as e:
                self.not_carried.append(Note(t.name, None, f"index {idx.name} is not carried "
                                             f"over: {e.reason}", kind="not carried"))
                continue
            ix.pg_name = self.names.claim(wanted)
            if ix.pg_name != wanted and not idx.name.startswith("sqlite_autoindex_"):
                self.warnings.append(Note(t.name, None, f"index {idx.name} renamed to "
                                          f"{ix.pg_name!r} (name taken or too long)",
                                          kind="name"))
            tp.indexes.append(ix)
        for i, check in enumerate(t.checks, 1):
            named = t.check_names[i - 1] if i <= len(t.check_names) else None
            ck = CheckPlan(pg_name=named or f"{tp.pg_name}_check{i}", source=check)
            try:  # (translated as the run will: what it refuses is not carried)
                ddl.checks(replace(tp, checks=[ck]))
            except ddl.NotCarried as e:
                json_valid = re.search(r"json_valid\s*\(\s*[\"`\[]?(\w+)", check, re.I)
                column = next((c for c in tp.columns if json_valid and
                               c.name.lower() == json_valid.group(1).lower()), None)
                if column is not None and column.pg_type in ("jsonb", "json"):
                    self.warnings.append(Note(t.name, column.name, f"CHECK ({check}) is "
                                              f"carried by the {column.pg_type} type itself, "
                                              "which holds valid JSON only", kind="check"))
                    continue
                self.not_carried.append(Note(t.name, None, f"CHECK ({check}) is not carried "
                                             f"over: {e.reason}", kind="not carried"))
                continue
            ck.pg_name = self.names.claim(ck.pg_name)
            violating = self.violations(t, check)
            if violating:
                ck.not_valid = True
                self.warnings.append(Note(t.name, None, f"CHECK ({check}) fails on rows "
                                          "already stored (SQLite did not check them): added "
                                          "NOT VALID, so new rows are checked", violating,
                                          kind="check"))
            tp.checks.append(ck)

    def violations(self, t: Table, check: str) -> list[str]:
        """Example rows the CHECK fails on, as SQLite (and so, the translation being
        equivalent, PostgreSQL) evaluates it."""
        label = row_label(t).replace("'", "''")
        try:
            rows = self.conn.execute(f"SELECT '{label}=' || {row_ref(t)} FROM "
                                     f"{quote_ident(t.name)} WHERE NOT ({check}) LIMIT 3")
            return [str(r[0]) for r in rows.fetchall()]
        except sqlite3.Error:  # (SQLite cannot evaluate it: nor could it have checked it)
            return []

    def merged_keys(self, t: Table, tp: TablePlan, columns: list[str]) -> list[str]:
        """Example rows whose key values differ in SQLite but are equal as mapped (a column
        whose values are read through a cast, e.g. integers and text made text)."""
        plans = [tp.column(c) for c in columns]
        if all(p.select == quote_ident(p.name) for p in plans):
            return []
        keys = ", ".join(f"{p.select} AS key{i}" for i, p in enumerate(plans))
        grouped = ", ".join(f"key{i}" for i in range(len(plans)))
        label = row_label(t).replace("'", "''")
        notnull = " AND ".join(f"({p.select}) IS NOT NULL" for p in plans)
        rows = self.conn.execute(
            f"SELECT group_concat(ref, ' and ') FROM (SELECT '{label}=' || {row_ref(t)} AS ref, "
            f"{keys} FROM {quote_ident(t.name)} WHERE {notnull}) GROUP BY {grouped} "
            "HAVING count(*) > 1 LIMIT 3").fetchall()
        return [str(r[0]) for r in rows]

    def plan_nocase(self, t: Table, tp: TablePlan) -> None:
        """A COLLATE NOCASE text column becomes citext, so that the application's equality
        and LIKE ignore case as in SQLite; its unique indexes keep SQLite's own uniqueness
        (ASCII letters folded, see transfer.ddl). Key columns (primary and foreign keys)
        stay text: their equality must be binary, as PostgreSQL compares keys."""
        keys = {c.lower() for c in t.pk} | {c.lower() for fk in t.foreign_keys
                                            for c in fk.columns}
        for other in self.cat.tables:
            keys |= {r.lower() for fk in other.foreign_keys if fk.ref_table == t.name
                     for r in fk.ref_columns}
        for c in tp.columns:
            if c.collation != "NOCASE" or c.pg_type.split("(")[0] not in TEXT_TYPES \
                    or c.name.lower() in keys:
                continue
            if self.nocase == "text":
                self.warnings.append(Note(tp.name, c.name, "COLLATE NOCASE: stays "
                                          f"{c.pg_type} (--nocase text), so the application's "
                                          "= and LIKE on it are case-sensitive in PostgreSQL; "
                                          "its unique indexes keep SQLite's uniqueness",
                                          kind="type"))
                continue
            was = c.pg_type
            c.pg_type = "citext"
            prof = self.profiles[t.name]
            cp = prof.columns[c.name]
            among = f" of the {prof.rows:,} rows profiled" if prof.sampled else ""
            found = (f"{cp.nocase_folds} of its values{among} hold"
                     f"{'s' if cp.nocase_folds == 1 else ''} such a letter, so = and LIKE on "
                     "those can match what they did not in SQLite (--nocase text keeps the "
                     "column case-sensitive)" if cp.nocase_folds else
                     f"none of its values{among} holds one (a value written later may)")
            self.warnings.append(Note(tp.name, c.name, f"COLLATE NOCASE: citext (was {was}), "
                                      "so that the application's = and LIKE ignore case as in "
                                      "SQLite, with no length limit; citext also folds non-ASCII "
                                      f"letters (Ä = ä), which SQLite's NOCASE does not: {found}"
                                      "; its unique indexes keep SQLite's uniqueness",
                                      cp.nocase_fold_rows, kind="type"))

    def plan_foreign_keys(self, t: Table, by_name: dict[str, TablePlan]) -> None:
        tp = by_name[t.name]
        for fk in t.foreign_keys:
            parent = by_name.get(fk.ref_table)
            label = f"foreign key ({', '.join(fk.columns)}) -> {fk.ref_table}"
            if parent is None:
                self.not_carried.append(Note(t.name, None, f"{label}: the parent table does not "
                                             "exist in the source", kind="not carried"))
                continue
            try:
                cols = [tp.column(self._col(t, c)).pg_name for c in fk.columns]
                pcat = self.cat.table(parent.name)
                ref_cols = [parent.column(self._col(pcat, c)).pg_name for c in fk.ref_columns]
            except KeyError:
                self.not_carried.append(Note(t.name, None, f"{label}: a column does not exist",
                                             kind="not carried"))
                continue
            if len(cols) != len(ref_cols):
                self.not_carried.append(Note(t.name, None, f"{label}: the parent has no primary "
                                             "key to refer to", kind="not carried"))
                continue
            unique_sets = [set(parent.pk)] + [
                {parent.column(str(term.column)).pg_name for term in ix.terms}
                for ix in parent.indexes if ix.unique and ix.where is None
                and all(term.column and not term.collation for term in ix.terms)]
            if set(ref_cols) not in [set(s) for s in unique_sets]:
                self.not_carried.append(Note(t.name, None, f"{label}: the parent columns are not "
                                             "a primary key or unique (as PostgreSQL compares "
                                             "keys), which PostgreSQL requires",
                                             kind="not carried"))
                continue
            types_child = [_family(tp.column(self._col(t, c)).pg_type) for c in fk.columns]
            types_parent = [_family(parent.column(self._col(pcat, c)).pg_type)
                            for c in fk.ref_columns]
            if types_child != types_parent:
                self.not_carried.append(Note(t.name, None, f"{label}: the column types differ "
                                             f"({', '.join(types_child)} vs "
                                             f"{', '.join(types_parent)})", kind="not carried"))
                continue
            orphans, refs = profile_mod.orphan_count(self.conn, t, fk.columns, parent.name,
                                                     fk.ref_columns)
            fkp = ForeignKeyPlan(pg_name=self.names.claim(
                fk.name or f"{tp.pg_name}_{'_'.join(cols)}_fkey"),
                                 columns=cols, ref_table=parent.pg_name, ref_columns=ref_cols,
                                 on_update=fk.on_update, on_delete=fk.on_delete,
                                 deferrable=fk.deferrable, not_valid=bool(orphans))
            if orphans:
                label_rows = [f"{profile_mod.row_label(t)}={r}" for r in refs]
                self.warnings.append(Note(t.name, None, f"{label}: {orphans} rows have no parent "
                                          "as PostgreSQL compares keys (SQLite does not enforce "
                                          "foreign keys, and matches text under the parent's "
                                          "collation); the rows are copied and the key is added "
                                          "NOT VALID", label_rows, kind="foreign key"))
            tp.foreign_keys.append(fkp)

    @staticmethod
    def _col(t: Table, name: str) -> str:
        for c in t.columns:
            if c.name.lower() == name.lower():
                return c.name
        raise KeyError(name)

    # -- order --------------------------------------------------------------------------
    def order(self, tables: list[TablePlan]) -> list[TablePlan]:
        """Parents before children, from the tenant root; cycles broken by name."""
        parents = {t.pg_name: {fk.ref_table for fk in t.foreign_keys if fk.ref_table != t.pg_name}
                   for t in tables}
        incoming: dict[str, int] = {t.pg_name: 0 for t in tables}
        for t in tables:
            for p in parents[t.pg_name]:
                incoming[p] += 1
        roots = [t for t in tables if not parents[t.pg_name]]
        root = max(roots, key=lambda t: (incoming[t.pg_name], -len(t.pg_name)), default=None)
        if root is not None and incoming[root.pg_name]:
            for t in tables:
                for fk in t.foreign_keys:
                    if fk.ref_table == root.pg_name and len(fk.columns) == 1 and t.pk:
                        t.tenant_key = fk.columns[0]
                        break
        done: list[TablePlan] = []
        seen: set[str] = set()
        remaining = sorted(tables, key=lambda t: (t is not root, t.pg_name))
        while remaining:
            ready = [t for t in remaining if parents[t.pg_name] <= seen]
            pick = ready[0] if ready else remaining[0]  # a cycle: FKs are added after the load
            done.append(pick)
            seen.add(pick.pg_name)
            remaining.remove(pick)
        return done

    # -- views --------------------------------------------------------------------------
    def plan_views(self, by_name: dict[str, TablePlan]) -> list[ViewPlan]:
        """Each view translated by meaning (transfer.sqlview), with what it reads: the
        tables and the views before it; one the translator refuses is not carried."""
        relations = {tp.name.lower(): tp.name for tp in by_name.values()}
        views: list[ViewPlan] = []
        for v in self.cat.views:
            toks = sqltext.tokenize(v.sql)
            body = next((k for k, tok in enumerate(toks) if tok.upper == "AS"), None)
            if body is None:
                continue
            if any(tok.kind == "lparen" for tok in toks[:body]):
                self.not_carried.append(Note(v.name, None, "view is not carried over: its "
                                             "column list (CREATE VIEW v(a, b)) is not "
                                             "translated", kind="not carried"))
                continue
            source = sqltext.text_of(v.sql, toks[body + 1:]).rstrip().rstrip(";")
            depends = sorted({relations[tok.name.lower()] for tok in toks[body + 1:]
                              if tok.kind in ("word", "ident", "string")
                              and tok.name.lower() in relations}, key=str.lower)
            vp = ViewPlan(name=v.name, pg_name=pg_identifier(v.name), source=source,
                          depends=depends)
            try:
                ddl.views(replace(self._so_far(by_name), views=[*views, vp]))
            except ddl.NotCarried as e:
                self.not_carried.append(Note(v.name, None, f"view is not carried over: "
                                             f"{e.reason}", kind="not carried"))
                continue
            vp.pg_name = self.names.claim(v.name)
            views.append(vp)
            relations[v.name.lower()] = v.name
        return views

    def _so_far(self, by_name: dict[str, TablePlan]) -> Plan:
        return Plan(PLAN_FORMAT, {}, list(by_name.values()), [], [], [], [])


def _family(pg_type: str) -> str:
    base = pg_type.split("(")[0]
    if base in ("bigint", "integer", "smallint"):
        return "integer"
    if base in ("text", "varchar"):
        return "text"
    return base
