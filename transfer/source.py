"""Opening the SQLite source: read-only, with one clear sentence for every way it can fail."""

from __future__ import annotations

import atexit
import fcntl
import os
import sqlite3
import time
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


# -- leaving the source's directory as it was ------------------------------------------
# A read-only connection to a WAL database creates its -wal and -shm files when they are
# missing, and cannot remove them when it closes (SQLite's last writer connection would).
# Those this process made are removed at exit, as SQLite removes them: only when no other
# process uses the database (an exclusive lock on the database file's lock bytes, which
# every reader and writer takes a shared lock on first, and on the -shm file's dead-man
# switch byte, which every process attached to it holds) and the -wal holds nothing.
_PENDING_BYTE, _LOCK_BYTES = 0x40000000, 512  # SQLite's lock range in the database file
_SHM_DMS_BYTE = 128  # the -shm file's dead-man switch byte (os_unix.c: UNIX_SHM_DMS)
_MADE: dict[str, list[Path]] = {}  # database -> its side files absent when first read


def _side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def _note_side_files(path: Path, header: bytes) -> None:
    key = os.fspath(path.resolve())
    if key in _MADE or len(header) < 20 or header[18] != 2:  # not WAL mode
        _MADE.setdefault(key, [])
        return
    if not _MADE:
        atexit.register(tidy)
    _MADE[key] = [f for f in _side_files(Path(key)) if not f.exists()]


def tidy() -> None:
    """Remove the side files this process made beside WAL databases it read, where no
    other process uses them (call once every connection is closed)."""
    for key, made in _MADE.items():
        if made and any(f.exists() for f in made):
            _remove_unused(Path(key), made)


def _remove_unused(path: Path, made: list[Path]) -> None:
    wal, shm = _side_files(path)
    fds: list[int] = []
    try:
        # (a write lock needs a descriptor open for writing: it takes the lock, never writes)
        fds.append(os.open(path, os.O_RDWR))
        fcntl.lockf(fds[-1], fcntl.LOCK_EX | fcntl.LOCK_NB, _LOCK_BYTES, _PENDING_BYTE)
        if shm.exists():
            fds.append(os.open(shm, os.O_RDWR))
            fcntl.lockf(fds[-1], fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
        if wal.exists() and wal.stat().st_size:
            return  # (it holds something: not ours to remove)
        for f in (wal, shm):
            if f in made and f.exists():
                f.unlink()
    except OSError:
        return  # another process uses the database, or the files are not ours to touch
    finally:
        for fd in reversed(fds):
            os.close(fd)


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
    _note_side_files(path, header)
    if not header.startswith(SQLITE_HEADER):
        raise SourceError(
            f"{path} is not a SQLite 3 database (its first bytes are not 'SQLite format 3'); "
            "check the path."
        )
    for attempt in range(TRUNCATED_CHECKS):
        size, promised = _sizes(path, header)
        if size >= promised:
            return
        # A checkpoint (WAL) or a commit (rollback journal) writes page 1, with the new page
        # count, before the pages that extend the file: a file being written looks
        # truncated for a moment.
        if attempt == TRUNCATED_CHECKS - 1:
            break
        time.sleep(0.05 * (attempt + 1))
        header = read_header(path)
    raise SourceError(f"{path} is truncated ({size} bytes, the header promises {promised}); "
                      "restore it from a complete copy.")


TRUNCATED_CHECKS = 8  # (a short file is looked at again for 1.4 s)


def _sizes(path: Path, header: bytes) -> tuple[int, int]:
    """(the file's size, the size its header promises; 0 when the header promises none).
    The header's page count is valid when the "version-valid-for" number matches the
    change counter (SQLite >= 3.7.0 writes both); a shorter file is truncated."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]
    return path.stat().st_size, page_count * page_size if valid else 0


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


def schema_version(path: Path) -> int:
    """The schema's version as SQLite reads it (in WAL mode, the file's header is behind
    until a checkpoint)."""
    conn = open_source(path)
    try:
        return int(conn.execute("PRAGMA schema_version").fetchone()[0])
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
