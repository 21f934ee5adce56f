"""Change capture on the source, for a live cutover: which rows the application changes
while the copy and the catch-up run.

``start`` installs, in one short write transaction, a change log table and AFTER INSERT,
UPDATE and DELETE triggers on every table that can be followed. A trigger records which row
changed (its primary key before and after, as SQLite literals) and a monotonic sequence, not
the row itself: the catch-up reads the row from the source when it applies the change, so
the application's writes stay cheap. ``stop`` removes every object ``start`` made.

The log is trimmed as the changes are applied (``trim``): each live run records in the
source how far its target holds the log (``sqlite2pg_readers``), and the rows every run has
applied are deleted, in short write transactions, but for the last (its sequence is the
position a new run's copy records). A run whose target is behind what the log still holds
(another run of the same source trimmed it, or the target was restored from an older
backup) is refused (``check_held``), never given a log with a hole in it.

A table can be followed when it has a primary key (the row is found again in PostgreSQL by
it); a virtual table (no triggers) or a table without a key cannot, and is said so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from transfer import source as source_mod
from transfer import sqltext
from transfer.catalog import CAPTURE_LOG, CAPTURE_READERS, Table, read_catalog
from transfer.errors import BlockersFound, SourceError
from transfer.model import selected
from transfer.sqltext import quote_ident

LOG = CAPTURE_LOG
READERS = CAPTURE_READERS  # each live run's position: the changes its target holds
TRIM_ROWS = 10_000  # log rows deleted per write transaction (the application waits so long)
TRIGGERS = "sqlite2pg_capture_"  # name prefix of the triggers
OPERATIONS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


@dataclass
class Followed:
    table: str
    key: list[str]  # its primary key's columns


def journal_warning(path: Path) -> str | None:
    """What a rollback journal means for a live copy (None in WAL mode): SQLite lets no
    write commit while a read transaction is open, so the application's writes wait while
    the copy reads its snapshot."""
    header = source_mod.read_header(path)
    if len(header) >= 20 and header[18] == 2:
        return None
    return ("the source uses a rollback journal, in which no write commits while the copy "
            "reads: the application's writes wait for the copy (or fail with 'database is "
            "locked'); run PRAGMA journal_mode=WAL on it once, with the application stopped, "
            "for a copy the application can write through, or give --backup DIR, so that "
            "they wait only while the backup is made")


def followable(tables: list[Table]) -> tuple[list[Followed], list[tuple[str, str]]]:
    """The tables a capture follows, and (table, why not) for the others."""
    yes: list[Followed] = []
    no: list[tuple[str, str]] = []
    for t in tables:
        if t.kind == "virtual":
            no.append((t.name, "a virtual table has no triggers"))
        elif not t.pk:
            no.append((t.name, "it has no primary key, by which a changed row would be found "
                       "in PostgreSQL"))
        else:
            yes.append(Followed(t.name, list(t.pk)))
    return yes, no


def _key(row: str, columns: list[str]) -> str:
    """SQL of a row's key as one text: its columns' SQLite literals (quote()), in order."""
    return " || ',' || ".join(f"quote({row}.{quote_ident(c)})" for c in columns)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def trigger_sql(f: Followed) -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER statement) of the three triggers following ``f``."""
    out = []
    for op, word in OPERATIONS.items():
        old = _key("OLD", f.key) if op != "insert" else "NULL"
        new = _key("NEW", f.key) if op != "delete" else "NULL"
        name = f"{TRIGGERS}{op}_{f.table}"
        out.append((name, f"CREATE TRIGGER {quote_ident(name)} AFTER {word} ON "
                          f"{quote_ident(f.table)} BEGIN INSERT INTO {LOG} (tbl, old_key, new_key) "
                          f"VALUES ({_literal(f.table)}, {old}, {new}); END"))
    return out


def _writer(path: Path) -> sqlite3.Connection:
    source_mod.check_file(path)
    uri = "file:" + urllib.parse.quote(os.fspath(path.resolve())) + "?mode=rw"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None,
                               timeout=source_mod.BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as e:
        raise source_mod.describe_sqlite_error(path, e) from None


def start(path: Path, reader: str | None = None
          ) -> tuple[list[Followed], list[tuple[str, str]]]:
    """Install the change log and the triggers, in one write transaction (idempotent);
    ``reader``: a live run about to copy, registered at the log's last change (its copy's
    snapshot, taken after, holds at least that), so that no trim takes what it needs."""
    with _writing(path, "start capturing changes") as conn:
        tables, skipped = followable(read_catalog(conn).tables)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {LOG} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "tbl TEXT NOT NULL, old_key TEXT, new_key TEXT, "
                     "at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)))")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {READERS} (run_id TEXT PRIMARY KEY, "
                     "position INTEGER NOT NULL)")
        for f in tables:
            for _name, statement in trigger_sql(f):
                conn.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS",
                                               1))
        if reader is not None:
            conn.execute(f"INSERT OR REPLACE INTO {READERS} (run_id, position) VALUES (?, "
                         f"coalesce((SELECT max(seq) FROM {LOG}), (SELECT seq FROM "
                         "sqlite_sequence WHERE name = ?), 0))", (reader, LOG))
    return tables, skipped


@contextlib.contextmanager
def _writing(path: Path, what: str,
             remedy: str = "; the file must be writable by this user, and no writer may hold "
                           "it for long") -> Iterator[sqlite3.Connection]:
    """One write transaction on the source (BEGIN IMMEDIATE: the application's writers wait
    for it), committed when the block ends; a failure rolls it back and says ``what`` could
    not be done."""
    conn = _writer(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise SourceError(f"cannot {what} in {path} ({e}){remedy}.") from None
    finally:
        conn.close()


def stop(path: Path) -> int:
    """Remove the triggers and the change log (every object ``start`` made); how many."""
    with _writing(path, "stop capturing changes", remedy="") as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ? ESCAPE '\\'",
            (TRIGGERS.replace("_", "\\_") + "%",)).fetchall()]
        for name in names:
            conn.execute(f"DROP TRIGGER {quote_ident(name)}")
        conn.execute(f"DROP TABLE IF EXISTS {LOG}")
        conn.execute(f"DROP TABLE IF EXISTS {READERS}")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (LOG,))
    return len(names)


def register(path: Path, run_id: str, position: int) -> bool:
    """Record that run ``run_id``'s target holds the log up to ``position`` (so that no
    other run trims what it has not applied). False, and nothing written, when the capture
    was started by a version that kept no positions (a table made now would change the
    schema the live runs follow): its log is not trimmed."""
    with _writing(path, "record the live run's position") as conn:
        if not installed(conn, READERS):
            return False
        conn.execute(f"INSERT INTO {READERS} (run_id, position) VALUES (?, ?) ON CONFLICT "
                     "(run_id) DO UPDATE SET position = excluded.position", (run_id, position))
        return True


def trim(path: Path, run_id: str, position: int) -> Held | None:
    """``register``, then delete the changes every live run of ``path`` has applied (all
    but the log's last row, whose sequence is the position a new run's copy records),
    ``TRIM_ROWS`` per write transaction, each bounded by the readers' lowest position as it
    stands then; what the log holds now (None: a capture that keeps no positions)."""
    if not register(path, run_id, position):
        return None
    n = TRIM_ROWS
    while n == TRIM_ROWS:
        with _writing(path, "trim the change log") as conn:
            n = conn.execute(f"DELETE FROM {LOG} WHERE seq IN (SELECT seq FROM {LOG} WHERE "
                             f"seq <= (SELECT min(position) FROM {READERS}) AND seq < "
                             f"(SELECT max(seq) FROM {LOG}) ORDER BY seq LIMIT ?)",
                             (TRIM_ROWS,)).rowcount
    conn = source_mod.open_source(path)  # (what is left, read outside the write lock)
    try:
        rows, first = conn.execute(f"SELECT count(*), min(seq) FROM {LOG}").fetchone()
        low = conn.execute(f"SELECT run_id, position FROM {READERS} ORDER BY position, "
                           "run_id LIMIT 1").fetchone()
    except sqlite3.Error as e:
        raise source_mod.describe_sqlite_error(path, e) from None
    finally:
        conn.close()
    return Held(int(rows), first, str(low[0]), int(low[1])) if low else None


@dataclass
class Held:
    """What the change log holds after a trim, and the live run it is kept for."""
    rows: int
    first: int | None
    reader: str  # the run with the lowest position
    position: int


def forget(path: Path, run_id: str) -> bool:
    """Remove run ``run_id``'s position (it failed, was cleaned up or rolled back, or was
    killed before it was recorded: it will apply no more changes), so that the log is
    trimmed without it; whether it was there."""
    with _writing(path, "forget the live run's position") as conn:
        if not installed(conn, READERS):
            return False
        return conn.execute(f"DELETE FROM {READERS} WHERE run_id = ?",
                            (run_id,)).rowcount > 0


def forget_quietly(path: Path, run_id: str) -> bool:
    """``forget``, for a run that ends: False when the source could not be written (the
    changes are kept for it until 'capture forget' or 'capture stop')."""
    try:
        forget(path, run_id)
        return True
    except SourceError:
        return False


def check_held(first: int | None, position: int) -> None:
    """Refuse a target at ``position`` when the log's ``first`` change held is later than
    the next one it needs: the changes between were trimmed."""
    if first is not None and first > position + 1:
        raise SourceError(f"the change log no longer holds the changes after {position}, "
                          f"which the target needs (it begins at {first}: another live run "
                          "of this source applied and trimmed them, or the target was "
                          "restored from an older backup); start a new live run.")


def installed(conn: sqlite3.Connection, table: str = LOG) -> bool:
    """Whether the capture's ``table`` (its change log) is in the source."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def key_literals(text: str, width: int) -> list[str]:
    """The SQLite literals of a recorded key (refused unless exactly ``width`` literals: the
    log is the source's, and each is pasted into a query on the source)."""
    parts = sqltext.split_top_level(sqltext.tokenize(text))
    out = []
    for part in parts:
        toks = part[1:] if part and part[0].kind == "op" and part[0].text == "-" else part
        if len(toks) != 1 or not (toks[0].kind in ("number", "string", "blob")
                                  or toks[0].upper == "NULL"):
            raise SourceError(f"the change log holds a key that is not SQLite literals "
                              f"({text[:60]!r}); stop and start the capture again.")
        out.append(sqltext.text_of(text, part))
    if len(out) != width:
        raise SourceError(f"the change log holds a key of {len(out)} values for a key of "
                          f"{width} columns; the table's key changed: stop and start again.")
    return out


def start_for_run(source: Path, include: list[str], exclude: list[str], run_id: str,
                  log: Callable[[str], None]) -> None:
    """``run --live``: triggers on every table that can be followed (before the copy's
    snapshot, so that every change after it is in the log), and run ``run_id`` registered
    as a reader of the log; a selected table that cannot be followed is refused first,
    before anything is written to the source."""
    conn = source_mod.open_source(source)
    try:
        _followed, refused = followable(read_catalog(conn).tables)
    finally:
        conn.close()
    refused = [(n, why) for n, why in refused if selected(n, include, exclude)]
    if refused:
        names = ", ".join(f"{name} ({why})" for name, why in refused)
        raise BlockersFound(f"a live run cannot follow {names}; --exclude these tables, or "
                            "migrate without --live.")
    followed, _refused = start(source, run_id)
    log(f"        capturing the changes of {len(followed)} tables ({LOG} and triggers in the "
        "source; 'sqlite2pg capture stop' removes them)")
    if (why := journal_warning(source)) is not None:
        log(f"        {why}")
