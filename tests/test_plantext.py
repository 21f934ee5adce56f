"""`plan`'s text for people: a header of blockers and of what differs from the declared
schema, each rule's reason stated once, an estimate of run's duration and of the target's
size, the DDL; `--format json` keeps every field."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, build_db

from transfer import model, report
from transfer.plan import build_plan


def sqlite2pg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transfer", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def edge(*names: str, extra: str = "") -> str:
    return "\n".join((ROOT / "schemas" / "edge" / f"{n}.sql").read_text() for n in names) + extra


WIDE = ("CREATE TABLE wide (id INTEGER PRIMARY KEY, "
        + ", ".join(f"c{i:02d} INTEGER" for i in range(20)) + ");"
        "INSERT INTO wide (c00) VALUES (1), (2);")


@pytest.fixture(scope="module")
def mixed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Columns decided by the data, keys and foreign keys changed, many columns alike."""
    return build_db(tmp_path_factory.mktemp("plantext") / "mixed.db",
                    edge("keys", "mixed_affinity", "time_mixed", extra=WIDE))


def head(text: str) -> str:
    """The header: everything before the rules' legend."""
    return text.split("\nRules (", 1)[0]


def test_each_reason_is_stated_once(mixed_db: Path) -> None:
    text = sqlite2pg("plan", str(mixed_db))
    assert text.returncode == 0, text.stderr
    data = json.loads(sqlite2pg("plan", str(mixed_db), "--format", "json").stdout)
    columns = [c for t in data["tables"] for c in t["columns"]]
    assert sum(c["reason"] == "SQLite integers are 64-bit" for c in columns) > 20
    for c in columns:
        assert text.stdout.count(c["reason"]) <= 1, c["reason"]
        if c["decision"]:
            assert text.stdout.count(c["decision"]) == 1, c["decision"]
    legend = dict(re.findall(r"^  (\[r\d+\]) (.+?)  \(\d+ columns?\)$", text.stdout, re.M))
    assert "SQLite integers are 64-bit" in legend.values()
    # every column line refers to a rule or a difference, and the rule it names is its own
    rule_of = {v: k for k, v in legend.items()}
    for t in data["tables"]:
        section = text.stdout.split(f"\ntable {t['name']}  (", 1)[1].split("\n\n", 1)[0]
        for c in t["columns"]:
            if t["name"] == "wide" and c["name"] != "id":
                continue  # (one line for the twenty alike, below)
            line = next(ln for ln in section.splitlines() if ln.split()[0] == c["name"])
            want = rule_of.get(c["reason"]) if not c["decision"] else "[d"
            assert want is not None and want in line, (t["name"], c["name"], line)
    assert re.search(r"^  c00 \.\. c19 \(20 columns\)\s+INTEGER\s+-> bigint\s+\[r\d+\]$",
                     text.stdout, re.M)


def test_header_lists_blockers_and_what_differs(tmp_path: Path) -> None:
    db = build_db(tmp_path / "blocked.db", edge("mixed_affinity", "keys") + (
        ROOT / "schemas" / "blocked" / "dangling_fts4.sql").read_text())
    proc = sqlite2pg("plan", str(db))
    assert proc.returncode == 1, proc.stderr
    p = model.checked_plan(json.loads(sqlite2pg("plan", str(db), "--format", "json").stdout),
                           "plan")
    top = head(proc.stdout)
    assert f"Blockers ({len(p.blockers)}): run would fail on these" in top
    assert f"Differs from the declared schema ({len(p.warnings)})" in top
    assert f"Not carried over ({len(p.not_carried)})" in top
    for n in [*p.blockers, *p.warnings, *p.not_carried]:
        assert str(n) in top, n
    # the columns decided by the data refer to their line of the header
    said = dict(re.findall(r"^  (\[d\d+\])\s+\w+(?: \w+)?\s+mixed\.(\w+):", top, re.M))
    assert "count_" in said.values() and "happened" in said.values()
    for ref, column in said.items():
        assert re.search(rf"^  {column}\s.*{re.escape(ref)}", proc.stdout, re.M), column
    assert proc.stdout.rstrip().endswith("1 blocker(s): fix them before 'sqlite2pg run'.")


def test_no_blocker_says_so(mixed_db: Path) -> None:
    out = sqlite2pg("plan", str(mixed_db)).stdout
    assert "Blockers: none" in head(out)
    assert out.rstrip().endswith("No blockers: 'sqlite2pg run' can execute this plan.")


def test_estimate_and_ddl(saas_db: Path) -> None:
    proc = sqlite2pg("plan", str(saas_db))
    assert proc.returncode == 0, proc.stderr
    top = head(proc.stdout)
    run = re.search(r"^  run: about (?:(\d+)-(\d+) (s|min|h)|1 s or less) on this machine", top,
                    re.M)
    assert run, top
    if run.group(1):
        assert 0 < int(run.group(1)) <= int(run.group(2))
    size = re.search(r"^  target: about ([\d.]+) (KiB|MiB|GiB) \(tables [\d.]+ \w+, indexes "
                     r"[\d.]+ \w+\)$", top, re.M)
    assert size and float(size.group(1)) > 0, top
    assert re.search(r"^  \(estimates: .*this plan's profile of every row \([\d.]+ s here\)",
                     top, re.M)
    # the DDL, as --format sql prints it, then the verdict
    sql = sqlite2pg("plan", str(saas_db), "--format", "sql").stdout
    assert "\nDDL (" in proc.stdout and sql in proc.stdout
    assert proc.stdout.index(sql) > proc.stdout.index("\ntable api_logs")
    assert len(proc.stdout.splitlines()) < 230  # (266 lines before, a reason per column)


def test_json_keeps_every_field(saas_db: Path, tmp_path: Path) -> None:
    data = json.loads(sqlite2pg("plan", str(saas_db), "--format", "json").stdout)
    assert set(data) == {f.name for f in dataclasses.fields(model.Plan)}
    for t in data["tables"]:
        assert set(t) == {f.name for f in dataclasses.fields(model.TablePlan)}
        for c in t["columns"]:
            assert set(c) == {f.name for f in dataclasses.fields(model.ColumnPlan)}
    for key in ("path", "size", "mtime_ns", "snapshot", "sampled"):
        assert key in data["source"]
    assert data["source"]["profile_seconds"] >= 0
    # a plan file loads with the profile's time, and without it (an older plan file)
    saved = tmp_path / "plan.json"
    assert sqlite2pg("plan", str(saas_db), "-o", str(saved)).returncode == 0
    assert model.load_plan(saved).source["profile_seconds"] >= 0
    older = json.loads(saved.read_text())
    del older["source"]["profile_seconds"]
    saved.write_text(json.dumps(older))
    text = report.plan_text(model.load_plan(saved))
    assert "no profile time" in text and "  run: about " in text


def test_estimate_follows_the_profile_and_skips_a_sample(saas_db: Path) -> None:
    plan = build_plan(saas_db)
    plan.source["profile_seconds"] = 1.0
    one = report.estimate(plan)
    plan.source["profile_seconds"] = 10.0
    ten = report.estimate(plan)
    assert one is not None and ten is not None
    assert 0 < one.run_s[0] < one.run_s[1] < ten.run_s[0]
    assert one.verify_s == ten.verify_s and one.target_bytes == ten.target_bytes > 0
    sampled = build_plan(saas_db, sample=100)
    assert report.estimate(sampled) is None
    assert "no estimate of run's duration" in report.plan_text(sampled)


def test_size_estimate_is_near_the_target(saas_db: Path, pg_dsn: str) -> None:
    """The target's size, estimated, is within a third of what PostgreSQL holds."""
    plan = build_plan(saas_db)
    est = report.estimate(plan)
    assert est is not None
    proc = sqlite2pg("run", str(saas_db), "--to", pg_dsn, "--no-verify", "--quiet")
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)) "
                           "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchone()
    assert row is not None
    tables, indexes = int(row[0]), int(row[1])
    assert 0.67 < est.target_bytes / (tables + indexes) < 1.5, (est, tables, indexes)
    assert 0.5 < sum(est.table_bytes.values()) / tables < 2
