"""The operator's view of rollback and clean, on a real PostgreSQL: each says what it would
do before doing it; rollback, and clean dropping a backup or rolled-back schema, ask on a
terminal and, off one, want --yes (exit 64, nothing changed); clean drops staging schemas
without asking and says which backup schemas it keeps."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import build_db, schemas

SMALL = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'a'), (2, 'b');
"""


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a script would: stdin is not a terminal."""
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def on_terminal(answer: str, *args: str) -> tuple[int, str]:
    """Run the command on a pseudo-terminal, typing ``answer``; its exit code and output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "transfer", *args], stdin=slave,
                            stdout=slave, stderr=slave)
    os.close(slave)
    os.write(master, answer.encode() + b"\n")  # (the terminal keeps it until it is read)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if select.select([master], [], [], 1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
    os.close(master)
    return proc.wait(timeout=60), out.decode().replace("\r\n", "\n")


def with_prefix(dsn: str, prefix: str) -> list[str]:
    return sorted(s for s in schemas(dsn) if s.startswith(prefix))


def states(dsn: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT run_id, state, message FROM sqlite2pg.runs ORDER BY "
                            "started_at").fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def replaced(tmp_path: Path, pg_dsn: str) -> str:
    """A target where a first run's tables were replaced by a second run's (kept in a
    backup schema); returns the second run's id."""
    db = build_db(tmp_path / "small.db", SMALL)
    assert sqlite2pg("run", str(db), "--to", pg_dsn).returncode == 0
    second = sqlite2pg("run", str(db), "--to", pg_dsn, "--if-exists", "replace")
    assert second.returncode == 0, second.stderr
    assert len(with_prefix(pg_dsn, "sqlite2pg_old_")) == 1
    return states(pg_dsn)[-1][0]


def test_rollback_off_a_terminal_wants_yes_and_changes_nothing(pg_dsn: str,
                                                               replaced: str) -> None:
    before, runs_before = schemas(pg_dsn), states(pg_dsn)
    (backup,) = with_prefix(pg_dsn, "sqlite2pg_old_")
    refused = sqlite2pg("rollback", "--to", pg_dsn)
    assert refused.returncode == 64, refused.stderr
    line = one_line(refused)
    for words in (f"roll back run {replaced}", "2 tables of about 5 rows",
                  f"sqlite2pg_rolledback_{replaced}", backup, "add --yes"):
        assert words in line, line
    assert refused.stdout == ""
    assert schemas(pg_dsn) == before and states(pg_dsn) == runs_before

    done = sqlite2pg("rollback", "--to", pg_dsn, "-y")
    assert done.returncode == 0, done.stderr
    assert f"rolled back run {replaced}" in done.stdout and "restored 2 tables" in done.stdout
    assert with_prefix(pg_dsn, "sqlite2pg_rolledback_") == [f"sqlite2pg_rolledback_{replaced}"]
    assert with_prefix(pg_dsn, "sqlite2pg_old_") == []


def test_rollback_on_a_terminal_shows_what_moves_and_asks(pg_dsn: str, replaced: str) -> None:
    before = schemas(pg_dsn)
    (backup,) = with_prefix(pg_dsn, "sqlite2pg_old_")
    code, out = on_terminal("n", "rollback", "--to", pg_dsn)
    assert code == 0, out
    aside = f"sqlite2pg_rolledback_{replaced}"
    for words in (f"This would roll back run {replaced}",
                  f"public.items (about 3 rows) -> {aside}",
                  f"public.notes (about 2 rows) -> {aside}",
                  f"{backup}.items (about 3 rows) -> public", "Go ahead? [y/N]",
                  "nothing changed"):
        assert words in out, out
    assert schemas(pg_dsn) == before

    code, out = on_terminal("y", "rollback", "--to", pg_dsn)
    assert code == 0, out
    assert f"rolled back run {replaced}" in out and "nothing changed" not in out
    assert aside in schemas(pg_dsn) and backup not in schemas(pg_dsn)


def test_clean_drops_rolled_back_schemas_and_keeps_backups(tmp_path: Path, pg_dsn: str,
                                                           replaced: str) -> None:
    assert sqlite2pg("rollback", "--to", pg_dsn, "--yes").returncode == 0
    db = tmp_path / "small.db"
    third = sqlite2pg("run", str(db), "--to", pg_dsn, "--if-exists", "replace")
    assert third.returncode == 0, third.stderr
    last = states(pg_dsn)[-1][0]
    (backup,) = with_prefix(pg_dsn, "sqlite2pg_old_")
    aside = f"sqlite2pg_rolledback_{replaced}"

    refused = sqlite2pg("clean", "--to", pg_dsn)  # (the application may have written there)
    assert refused.returncode == 64 and "set aside, with any rows the application wrote" in \
        refused.stderr, refused.stderr
    assert aside in schemas(pg_dsn)
    cleaned = sqlite2pg("clean", "--to", pg_dsn, "--yes")
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout.splitlines() == [
        f"dropped schema {aside} (the tables the rollback of run {replaced} set aside: "
        "2 tables of about 5 rows)",
        f"kept schema {backup} (the tables run {last} replaced; 'sqlite2pg rollback' restores "
        "them; 'clean --backups' drops them)"]
    assert with_prefix(pg_dsn, "sqlite2pg_rolledback_") == []
    assert ("rolled back", f"the tables the rollback set aside in {aside} were dropped by "
            "clean") in [s[1:] for s in states(pg_dsn)]

    again = sqlite2pg("clean", "--to", pg_dsn)
    assert again.stdout.splitlines()[0].startswith(f"kept schema {backup} ")
    assert "nothing to clean" not in again.stdout


def test_clean_backups_wants_yes_then_drops_them(pg_dsn: str, replaced: str) -> None:
    (backup,) = with_prefix(pg_dsn, "sqlite2pg_old_")
    before, runs_before = schemas(pg_dsn), states(pg_dsn)
    refused = sqlite2pg("clean", "--to", pg_dsn, "--backups")
    assert refused.returncode == 64, refused.stderr
    line = one_line(refused)
    for words in (f"drop 1 schema ({backup})", "among them 1 backup schema",
                  "no longer bring back", "add --yes"):
        assert words in line, line
    assert schemas(pg_dsn) == before and states(pg_dsn) == runs_before

    done = sqlite2pg("clean", "--to", pg_dsn, "--backups", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"dropped schema {backup} (the tables run {replaced} "
                                  "replaced: 2 tables of about 5 rows)"), done.stdout
    assert with_prefix(pg_dsn, "sqlite2pg_old_") == []
    assert states(pg_dsn)[-1][1:] == ("switched", "backup dropped: cannot roll back")
    assert sqlite2pg("clean", "--to", pg_dsn, "--backups").stdout == "nothing to clean\n"
