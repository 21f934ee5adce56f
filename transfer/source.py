"""Opening the SQLite source: read-only, with one clear sentence for every way it can fail."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from transfer.errors import SourceError

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5_000


_HEADER_FDS: dict[str, int] = {}


def read_header(path: Path) -> bytes:
    """The first 100 bytes of the database file, through a descriptor kept open for the
    life of the process. POSIX drops every lock a process holds on a file when it closes
    any descriptor of it: opening and closing the file here would release the read locks
    of the connections copying it (letting a writer change the snapshot under them)."""
    key = os.fspath(path.resolve())
    fd = _HEADER_FDS.get(key)
    if fd is None:
        fd = os.open(key, os.O_RDONLY)
        _HEADER_FDS[key] = fd
    return os.pread(fd, 100, 0)


def check_file(path: Path) -> None:
    """Raise ``SourceError`` unless ``path`` is a readable SQLite 3 database file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file; check the path to the SQLite database.")
    if path.is_dir():
        raise SourceError(f"{path} is a directory; give the path of a SQLite database file.")
    try:
        header = read_header(path)
    except PermissionError:
        raise SourceError(
            f"{path}: permission denied; run as a user who can read the file."
        ) from None
    if len(header) == 0:
        raise SourceError(f"{path} is empty, not a SQLite database; check the path.")
    if not header.startswith(SQLITE_HEADER):
        raise SourceError(
            f"{path} is not a SQLite 3 database (its first bytes are not 'SQLite format 3'); "
            "check the path."
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    size = path.stat().st_size
    # The header's page count is valid when the "version-valid-for" number matches the
    # change counter (SQLite >= 3.7.0 writes both); a shorter file is truncated.
    if header[24:28] == header[92:96] and page_count and size < page_count * page_size:
        raise SourceError(
            f"{path} is truncated ({size} bytes, the header promises "
            f"{page_count * page_size}); restore it from a complete copy."
        )


def open_source(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only; the connection never writes to the source."""
    check_file(path)
    uri = "file:" + urllib.parse.quote(os.fspath(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        raise describe_sqlite_error(path, e) from None
    return conn


def check_readable(path: Path) -> None:
    """Raise ``SourceError`` unless a read transaction can begin on ``path`` now (a writer
    holding an exclusive lock would make the copy fail after the target was touched)."""
    conn = open_source(path)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        raise describe_sqlite_error(path, e) from None
    finally:
        conn.close()


def describe_sqlite_error(path: Path, e: sqlite3.Error) -> SourceError:
    """Turn an sqlite3 error into one sentence saying what to do."""
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return SourceError(
            f"{path} is locked by another process; stop the writer (or wait for its "
            "transaction to finish) and try again."
        )
    if "malformed" in msg or "corrupt" in msg or "not a database" in msg:
        return SourceError(
            f"{path} is corrupt ({msg}); run 'sqlite3 {path} \"PRAGMA integrity_check\"' and "
            "restore or '.recover' it first."
        )
    if "unable to open" in msg:
        return SourceError(
            f"{path} cannot be opened ({msg}); check that the file and its directory are "
            "readable (a WAL database needs its -shm file or a writable directory)."
        )
    return SourceError(f"{path}: SQLite error: {msg}.")


def snapshot_identity(path: Path) -> dict[str, int | str]:
    """What changes whenever a transaction commits into ``path`` (WAL or rollback journal).

    The main file's size, modification time, change counter and schema cookie, and the
    write-ahead log's size, modification time and salts (they change when it restarts).
    """
    st = path.stat()
    header = read_header(path)
    ident: dict[str, int | str] = {
        "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "change_counter": int.from_bytes(header[24:28], "big"),
        "schema_cookie": int.from_bytes(header[40:44], "big"),
    }
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        with wal.open("rb") as f:
            wal_header = f.read(32)
        ident.update(wal_size=wal.stat().st_size, wal_mtime_ns=wal.stat().st_mtime_ns,
                     wal_salts=wal_header[16:24].hex())
    return ident


def backup(path: Path, directory: Path) -> Path:
    """A consistent copy of ``path`` in ``directory`` (``VACUUM INTO``: one snapshot, even
    while the application writes); the run then reads this copy, so it is exactly the
    snapshot that was migrated."""
    import time

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SourceError(f"cannot create the backup directory {directory}: {e.strerror}; "
                          "choose another --backup directory.") from None
    out = (directory / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.db").resolve()
    if out.exists():
        raise SourceError(f"{out} already exists; choose another --backup directory or "
                          "wait a second.")
    conn = open_source(path)
    try:
        conn.execute("VACUUM INTO ?", (os.fspath(out),))
    except sqlite3.Error as e:
        raise SourceError(f"cannot write the backup {out}: {e}; check the directory's "
                          "permissions and free space.") from None
    finally:
        conn.close()
    return out
