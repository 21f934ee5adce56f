"""What the operator sees: progress lines off a terminal with every table's final counts,
a summary within 100 columns whose totals add up, and reports for a change review (the
JSON valid against docs/report.schema.json, the Markdown with its decisions and tables)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, build_db

from transfer.progress import Progress

SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def sqlite2pg(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


@pytest.fixture(scope="module")
def decided_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tables whose migration changes a key, a type, values and a CHECK (see
    schemas/edge/{keys,checks,time_mixed}.sql)."""
    return build_db(tmp_path_factory.mktemp("report") / "decided.db", "\n".join(
        (ROOT / "schemas" / "edge" / f"{n}.sql").read_text()
        for n in ("keys", "checks", "time_mixed")))


def test_the_reports_validate_and_say_what_the_summary_says(
        decided_db: Path, tmp_path: Path, pg_dsn: str) -> None:
    as_json, as_md = tmp_path / "r.json", tmp_path / "r.md"
    proc = sqlite2pg("run", str(decided_db), "--to", pg_dsn, "--report", str(as_json),
                     SQLITE2PG_PROGRESS_INTERVAL="0")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(as_json.read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["outcome"] == "verified"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", report["started_at"])
    assert report["started_at"] <= report["ended_at"]
    assert "@" in report["target"]["dsn"] or "host=" in report["target"]["dsn"]
    tables = report["tables"]
    assert report["totals"]["rows"] == sum(t["rows"] for t in tables) > 0
    assert all(t["verified"] == "equal" and t["bytes_in_target"] > 0 for t in tables)
    steps = report["seconds"]
    assert list(steps)[:2] == ["check", "plan"] and list(steps)[-1] == "total"
    assert abs(sum(v for k, v in steps.items() if k != "total") - steps["total"]) < 0.01
    assert all(len(str(v).split(".")[-1]) <= 3 for v in steps.values())  # rounded
    kinds = {d["kind"] for d in report["decisions"]}
    assert {"key", "type", "value", "not carried", "check"} <= kinds
    assert report["objects"]["created"]["tables"] == len(tables)
    assert report["objects"]["created"]["primary keys"] >= 1
    assert report["rollback"].startswith("sqlite2pg rollback --to ")

    # The summary (stdout) fits 100 columns and its totals add up.
    out = proc.stdout.splitlines()
    assert max(len(line) for line in out) <= 100, proc.stdout
    body = [line for line in out[2:] if not line.startswith("-")]
    rows = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in body
            if line.split() and line.split()[0] in {t["table"] for t in tables} | {"total"}}
    assert rows["total"] == sum(v for k, v in rows.items() if k != "total")
    assert any(line.startswith("created: ") for line in out)
    seconds = " ".join(line for line in out if line.startswith(("seconds:", "   ")))
    parts = [float(x) for x in re.findall(r"\b(\d+\.\d\d)\b", seconds)]
    assert abs(sum(parts[:-1]) - parts[-1]) <= 0.01 * len(parts), seconds

    # Off a terminal: timestamped lines, every table's final counts, every phase shown.
    err = proc.stderr.splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in err if line.strip()), err
    for t in tables:
        assert any(f"copied {t['table']}: {t['rows']:,} rows" in line for line in err), t
    for phase in ("profile", "copy", "verify"):
        assert any(re.match(rf"\d\d:\d\d:\d\d {phase} ", line) for line in err), phase

    # The Markdown report carries the same facts, for people.
    proc = sqlite2pg("run", str(decided_db), "--to", pg_dsn, "--report", str(as_md),
                     "--target-schema", "again")
    assert proc.returncode == 0, proc.stderr
    md = as_md.read_text()
    assert md.startswith("# sqlite2pg run ") and ": verified" in md.splitlines()[0]
    assert "| table | rows | rejected | MiB sent | MiB in PostgreSQL | seconds | verified |" in md
    for t in tables:
        assert re.search(rf"^\| {re.escape(t['table'])} \| {t['rows']:,} \| 0 \|", md, re.M), t
    decisions = md.split("## Decisions")[1].split("## ")[0]
    assert "| table | column | kind | what | example rows |" in decisions
    assert re.search(r"^\| codes \|  \| check \| .*NOT VALID.* \| id=3 \|$", decisions, re.M)
    assert "## Verification" in md and "tables equal" in md
    assert "sqlite2pg rollback --to " in md and "--target-schema again" in md
    assert "password" not in md


def test_a_password_never_reaches_the_reports(decided_db: Path, tmp_path: Path,
                                              pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reporter")
        conn.execute("CREATE ROLE reporter LOGIN SUPERUSER PASSWORD 's3cr|et'")
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    dsn = psycopg.conninfo.make_conninfo(pg_dsn, user="reporter", password="s3cr|et")
    for name in ("r.json", "r.md"):
        proc = sqlite2pg("run", str(decided_db), "--to", dsn, "--report", str(tmp_path / name),
                         "--target-schema", f"pw_{name[2:]}", "--no-verify")
        assert proc.returncode == 0, proc.stderr
        text = (tmp_path / name).read_text()
        assert "s3cr" not in text and "reporter" in text and str(info["port"]) in text
        assert "s3cr" not in proc.stdout + proc.stderr


def test_progress_lines_off_a_terminal() -> None:
    now = [0.0]
    out = io.StringIO()
    p = Progress(out, tty=False, interval=5, clock=lambda: now[0])
    p.begin("copy", 1000, "rows")
    for done in range(0, 1001, 100):
        now[0] = done / 100  # 100 rows a second
        p.update("copy", done, nbytes=done * 1024, current="users")
    p.update("verify", 5)  # (not the current phase: ignored)
    p.log("copied users: 1,000 rows")
    p.end("copy")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 5 s, at 10 s, and the item
    assert re.fullmatch(r"\d\d:\d\d:\d\d copy +#{10}\.{10}  50%  500 of 1,000 rows  0\.5 MiB  "
                        r"100 rows/s  elapsed 5 s  ETA 5 s  users", lines[0]), lines[0]
    assert lines[2].endswith("copied users: 1,000 rows")


def test_progress_on_a_terminal_rewrites_one_line_and_clears_it() -> None:
    out = io.StringIO()
    now = [0.0]
    p = Progress(out, tty=True, clock=lambda: now[0])
    p.begin("verify", 4, "tables")
    now[0] = 2.0
    p.update("verify", 1)
    p.log("STEP 7  verify")
    p.end("verify")
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kverify") and "1 of 4 tables" in text
    assert "\r\x1b[KSTEP 7  verify\n" in text  # the message on a line of its own
    assert text.endswith("\r\x1b[K")  # and the progress line gone at the end
    quiet = io.StringIO()
    q = Progress(quiet, tty=False, quiet=True, interval=0)
    q.begin("copy", 10)
    q.update("copy", 5)
    q.log("STEP 4")
    q.log("copied users: 5 rows")
    assert quiet.getvalue() == ""
