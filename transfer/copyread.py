"""The copy's read of one table (``transfer.copier`` runs it in its streams): the query in
rowid or tenant order from a resumed position, the storage-class guard for rows the plan's
profile did not read, the conversion of each batch to the types COPY receives, and what
becomes of a row that cannot be carried: the run stops naming its table, column, row and
key, or (``--on-error reject``) the row goes to the reject file (``RejectLog``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from transfer import convert, reader, sqltext
from transfer.errors import DataError, TargetError
from transfer.model import ColumnPlan, TablePlan, decimal_of
from transfer.profile import predicate
from transfer.settings import BATCH_ROWS
from transfer.sqltext import quote_ident
from transfer.state import TableProgress

WIRE_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(), "int32": pa.int32(), "int16": pa.int16(), "float64": pa.float64(),
    "bool": pa.bool_(), "text": pa.string(), "bytes": pa.binary(),
    "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"),
    "epoch_timestamp": pa.timestamp("us"), "epoch_timestamptz": pa.timestamp("us", tz="UTC"),
    "epoch_ms_timestamp": pa.timestamp("us"),
    "epoch_ms_timestamptz": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
    "jsonb": pa.binary(), "text_int64": pa.int64(), "text_int32": pa.int32(),
    "text_int16": pa.int16(), "text_float64": pa.float64(), "uuid_text": pa.string(),
    "time_text": pa.string(), "rails_time_text": pa.string(), "inet_text": pa.string(),
    "numeric_text": pa.string(),
}
SOURCE_CLASS = {"int64": "integer", "int32": "integer", "int16": "integer", "float64": "real",
                "bytes": "blob", "epoch_timestamp": "integer", "epoch_timestamptz": "integer",
                "epoch_ms_timestamp": "integer", "epoch_ms_timestamptz": "integer"}


def wire_type(conv: str) -> pa.DataType:
    dec = decimal_of(conv)
    if dec:
        p, s = dec
        return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
    return WIRE_TYPES[conv]


def source_class(col: ColumnPlan) -> str:
    if col.convert == "bool":
        return "text" if col.storage.get("text") else "integer"
    return SOURCE_CLASS.get(col.convert, "text")


def wire_schema(t: TablePlan) -> pa.Schema:
    """The Arrow schema COPY receives: PostgreSQL column names, wire types."""
    return pa.schema([pa.field(c.pg_name, wire_type(c.convert)) for c in t.columns])


# Storage classes the driver reads exactly as each planned one, read as stored: an integer
# as its digits in text and as a double (up to 2^53), text as its bytes. It refuses other
# classes for an integer or real column (``reader.MixedTypes``) and turns them silently into
# text or bytes otherwise (a real into its own text: -0.0 loses its sign).
_EXACT = {"integer": ("integer",), "real": ("real", "integer"), "text": ("text", "integer"),
          "blob": ("blob", "text")}
_REASONS = {
    "class": "holds a {stored} value, a storage class the plan did not see in the column",
    "double": "holds an integer beyond 2^53, which no double holds exactly",
    "scale": "holds a real that {pg_type} cannot hold exactly",
}


def _guard(c: ColumnPlan) -> tuple[list[tuple[str, str]], str | None]:
    """The column's tests, ``[(reason, SQL true for a value the plan did not expect)]``,
    and, read as stored, the test the driver itself makes (it refuses such a value)."""
    raw = quote_ident(c.name)
    cls = source_class(c)
    plain = c.select == raw
    seen = {k for k, n in c.storage.items() if n and k != "null"}
    allowed = seen | set(_EXACT[cls] if plain else ())
    tests = []
    listed = ", ".join(f"'{k}'" for k in sorted(allowed | {"null"}))
    tests.append(("class", f"typeof({raw}) NOT IN ({listed})"))
    if cls == "real" and "integer" in allowed:
        tests.append(("double", predicate("int_beyond_double", c.name)))
    dec = decimal_of(c.convert)
    if dec:
        tests.append(("scale", f"typeof({raw}) = 'real' AND CAST(printf('%.{dec[1]}f', "
                               f"{raw}) AS REAL) <> {raw}"))
    driver = None
    if plain and cls in ("integer", "real"):
        driver = f"typeof({raw}) NOT IN ({', '.join(repr(k) for k in _EXACT[cls])}, 'null')"
    return tests, driver


def read_exprs(t: TablePlan) -> list[tuple[str, str]]:
    """(expression, storage class it yields) of each column, as the plan reads it."""
    return [(c.select, source_class(c)) for c in t.columns]


def guarded_exprs(t: TablePlan, full: bool = False) -> list[tuple[str, str]]:
    """The table's (expression, storage class) pairs with the guard of ``table_query``.

    A value is named when the plan did not expect it: a storage class its profile did not
    see in the column (unless read as stored and exactly, ``_EXACT``), an integer beyond
    2^53 for a double, a real a numeric(p,s) cannot hold. Light (``full`` False): what the
    driver refuses by itself is not tested (the read stops, ``reader.MixedTypes``); then
    ``full`` tests it too, reading each such value as NULL."""
    exprs = read_exprs(t)
    whens = []
    for i, c in enumerate(t.columns):
        tests, driver = _guard(c)
        raw = quote_ident(c.name)
        if driver is not None:
            if full:
                exprs[i] = (f"CASE WHEN NOT ({driver}) THEN {exprs[i][0]} END", exprs[i][1])
            else:
                tests = [(r, sql) for r, sql in tests if r != "class"]
        whens += [f"WHEN {sql} THEN '{i + 1},{reason},' || typeof({raw}) || ',' || "
                  f"quote({raw})" for reason, sql in tests]
    return [*exprs, (f"CASE {' '.join(whens)} END" if whens else "NULL", "text")]


def misfits(batch: pa.RecordBatch, t: TablePlan) -> list[tuple[int, int, str, str]]:
    """(row, column index, reason, SQLite literal) of each value a guarded batch (see
    ``guarded_exprs``) names; the reason says why the plan did not expect it."""
    flags = batch.column(len(t.columns))
    if flags.null_count == len(flags):
        return []
    out = []
    for i in pc.indices_nonzero(pc.is_valid(flags)).to_pylist():
        number, reason, stored, value = str(flags[i].as_py()).split(",", 3)
        k = int(number) - 1
        why = _REASONS[reason].format(stored=stored, pg_type=t.columns[k].pg_type)
        out.append((i, k, why, value))
    return out


def table_query(t: TablePlan, after: TableProgress | None = None, guard: str = "",
                literals: bool = False) -> str:
    """The copy's query. With a rowid: the rowid last, rows after the position ``after``,
    in rowid order, or in tenant order with the tenant key's SQLite literal before it.

    ``guard`` (for rows the plan's profile did not read: "light" or "full", see
    ``guarded_exprs``): one more column, after the table's, names the first value of the
    row whose storage class the plan did not expect as "<column number>,<storage
    class>,<SQLite literal>" (NULL: none).

    ``literals`` (for the reject file): then each column's SQLite literal, exactly as
    stored (``quote()``)."""
    exprs = guarded_exprs(t, guard == "full") if guard else read_exprs(t)
    if literals:
        exprs += [(f"quote({quote_ident(c.name)})", "text") for c in t.columns]
    if t.rowid is None:
        return reader.typed_query(t.name, exprs)
    after = after or TableProgress()
    if not t.tenant_order:
        where = f"{t.rowid} > {int(after.last_rowid)}" if after.last_rowid is not None else None
        return reader.typed_query(t.name, [*exprs, (t.rowid, "integer")], where=where,
                                  order_by=t.rowid)
    key = quote_ident(t.tenant_order)
    where = None
    if after.last_key is not None and not _is_literal(after.last_key):
        raise TargetError(f"the recorded position of table {t.name!r} ({after.last_key[:40]!r})"
                          " is not an SQLite literal; the bookkeeping was changed: start a new "
                          "run without --resume.")
    if after.last_rowid is not None and after.last_key is not None:
        # after (last key, last rowid) in SQLite's order: NULL first, then the column's own
        # comparison (its affinity and collation), as ORDER BY sorts
        if after.last_key == "NULL":
            where = f"({key} IS NULL AND {t.rowid} > {int(after.last_rowid)}) OR {key} IS NOT NULL"
        else:
            where = (f"{key} > {after.last_key} OR ({key} = {after.last_key} AND "
                     f"{t.rowid} > {int(after.last_rowid)})")
    return reader.typed_query(t.name, [*exprs, (f"quote({key})", "text"), (t.rowid, "integer")],
                              where=where, order_by=f"{key}, {t.rowid}", sort=True)


def _is_literal(text: str) -> bool:
    """A single SQLite literal, as quote() writes one (it is pasted into the resumed read)."""
    toks = sqltext.tokenize(text)
    if toks and toks[0].kind == "op" and toks[0].text == "-":
        toks = toks[1:]
    return len(toks) == 1 and (toks[0].kind in ("number", "string", "blob")
                               or toks[0].upper == "NULL")


def rows_where(conn: Any, t: TablePlan, where: str, extra: list[tuple[str, str]],
               batch_rows: int = BATCH_ROWS) -> Iterator[tuple[pa.RecordBatch, pa.RecordBatch]]:
    """The rows of ``t`` matching ``where`` (SQLite SQL the caller built from checked
    literals), read as the copy reads rows its profile did not see (fully guarded: a value
    the plan cannot carry stops, naming it) and converted: (batch for COPY, the ``extra``
    columns read alongside)."""
    exprs = guarded_exprs(t, full=True)
    query = reader.typed_query(t.name, [*exprs, *extra], where=where)
    converters = [convert.converter(c.convert) for c in t.columns]
    schema = wire_schema(t)
    for batch in reader.batches(conn, query, batch_rows):
        for i, k, why, value in misfits(batch.select(range(len(t.columns) + 1)), t):
            raise value_error(t, t.columns[k], batch, i, 0, value, why, "fix the value")
        rows = batch.select(range(len(t.columns)))
        out, _kept = convert_batch(t, rows, schema, converters, 0)
        yield out, batch.select(range(len(exprs), len(exprs) + len(extra)))


def convert_batch(t: TablePlan, batch: pa.RecordBatch, schema: pa.Schema,
                   converters: list[Callable[[pa.Array], pa.Array]], offset: int,
                   rejects: RejectLog | None = None, literals_at: int | None = None
                   ) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """(converted batch, the source rows it holds). A value that does not convert stops
    the copy naming it, or, with ``rejects``, its row goes to the reject file."""
    while True:
        arrays = []
        for i, (col, fn) in enumerate(zip(t.columns, converters, strict=True)):
            arr = batch.column(i)
            try:
                arrays.append(fn(arr))
            except convert.ConversionError as e:
                bad = convert.first_failure(fn, arr)
                reason = f"cannot be carried as {col.pg_type}: {e}"
                if rejects is None or bad is None:
                    value = arr[bad].as_py() if bad is not None else None
                    raise value_error(t, col, batch, bad, offset, str(value), reason,
                                       "fix the value") from None
                rejects.write(t, batch, bad, offset, col.name, reason, literals_at)
                batch = drop_row(batch, bad)
                offset += 1  # (row numbers stay those of the source order)
                break
        else:
            return pa.RecordBatch.from_arrays(arrays, schema=schema), batch


def value_error(t: TablePlan, col: ColumnPlan, batch: pa.RecordBatch, index: int | None,
                 offset: int, value: str, reason: str, remedy: str) -> DataError:
    """The run stops on a value: its table, column, row, key and why, and the ways out."""
    return DataError(
        f"table {t.name!r}, column {col.name!r}, row {offset + (index or 0) + 1} of the copy "
        f"({row_key(t, batch, index)}): value {value[:80]!r} {reason}; {remedy}, override "
        f"the type with --cast {t.name}.{col.name}=text, or set rows like it aside with "
        "--on-error reject.")


def drop_row(batch: pa.RecordBatch, index: int) -> pa.RecordBatch:
    return pa.concat_batches([batch.slice(0, index), batch.slice(index + 1)])


def _json_value(v: object) -> object:
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return repr(v)
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


class RejectLog:
    """Rows set aside by ``--on-error reject``: one JSON Lines file per table, each line the
    row's values as read for the copy (blobs as \\x hex; a column read through an
    expression, as the expression gave it), each column's SQLite literal exactly as stored
    (``quote()``), its key, the column and the reason."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: dict[str, Path] = {}
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def write(self, t: TablePlan, batch: pa.RecordBatch, index: int, offset: int,
              column: str | None, reason: str, literals_at: int | None = None) -> None:
        """``literals_at``: where the batch's columns of SQLite literals begin (see
        ``table_query``)."""
        values = {c.name: _json_value(batch.column(i)[index].as_py())
                  for i, c in enumerate(t.columns)}
        entry: dict[str, object] = {"table": t.name, "row": offset + index + 1,
                                    "key": row_key(t, batch, index), "column": column,
                                    "reason": reason, "values": values}
        if literals_at is not None:
            entry["literals"] = {c.name: batch.column(literals_at + i)[index].as_py()
                                 for i, c in enumerate(t.columns)}
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            path = self.files.get(t.name)
            if path is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / f"{_safe_file_name(t.name)}.rejects.jsonl"
                self.files[t.name] = path
            with path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
            self.counts[t.name] = self.counts.get(t.name, 0) + 1

    @staticmethod
    def rows_in(directory: Path, table: str) -> int:
        """Rows of ``table`` set aside in ``directory`` by every invocation of a run (a
        resumed run reads again a chunk that was not committed: its rows count once)."""
        path = directory / f"{_safe_file_name(table)}.rejects.jsonl"
        if not path.is_file():
            return 0
        seen = set()
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    e = json.loads(line)  # (a row is its key; without one, all it holds)
                    seen.add(e["key"] if e["key"] != "no primary key" else json.dumps(
                        [e["row"], e["values"]], sort_keys=True))
        return len(seen)


def _safe_file_name(name: str) -> str:
    """``name`` if it is a safe file name, else its safe part and a digest of it (the same
    in every process, so that a resumed run writes to the same reject file)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return cleaned if cleaned == name else f"{cleaned}_{digest}"


def row_key(t: TablePlan, batch: pa.RecordBatch, index: int | None) -> str:
    if index is None or not t.pk:
        return "no primary key"
    parts = []
    for pk in t.pk:
        for i, c in enumerate(t.columns):
            if c.pg_name == pk:
                parts.append(f"{c.name}={batch.column(i)[index].as_py()!r}")
    return ", ".join(parts)
