#!/usr/bin/env python3
"""Benchmark (not a test): sqlite2pg run against pgloader and PostgreSQL's own COPY.

    .venv/bin/python scripts/bench.py [--scale 1] [--dsn DSN] [--repeat 1] [--skip pgloader]

Builds the SaaS fixture at the given scale (cached under ``--work``), starts a throwaway
cluster (unless ``--dsn``), and runs side by side, each into a fresh database:

* ``sqlite2pg``: ``sqlite2pg run --no-verify`` (complete cutover: schema, data, keys,
  indexes, foreign keys, sequences), and ``sqlite2pg verify`` after it; then the same run
  with ``--order source`` (rowid order instead of tenant order), with ``--plan FILE``
  (the plan reviewed beforehand, as a runbook does: the cutover window's time), and with
  both;
* ``pgloader``: the Debian package, ``pgloader sqlite://... pgsql://...`` with its defaults;
* ``copy-reference``: the same tables created from sqlite2pg's DDL, then server-side
  ``COPY ... FROM 'file' (FORMAT csv)`` of files exported beforehand (export not timed),
  then the same keys, indexes and foreign keys: a hand-made cutover's floor.

Prints wall time, rows/s, peak RSS of the client process and the ratios.

With ``--live``: the live cutover instead, on a WAL-mode copy of the fixture with an
application writing about 200 transactions a second (tests/apps/live_writer.py): the cost of
the capture's triggers per write, ``run --live``, the lag ``sync --follow`` keeps, and the
write pause of ``cutover`` as the writer sees it (its longest wait for a write).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import make_fixture  # noqa: E402
import pgcluster  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, output tail) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, "\n".join(out.splitlines()[-4:])


TICK = os.sysconf("SC_CLK_TCK")
STEPS = {"1": "check", "2": "plan", "3": "pre-data", "4": "copy", "5": "post-data",
         "6": "switch", "7": "verify"}  # (run's log: STEP n)


def _proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process (and of its children it has reaped), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def server_cpu(cluster: Path | None) -> float | None:
    """CPU seconds the cluster's processes have used so far: the postmaster, the backends
    it has reaped, and those alive (None: a server not started here)."""
    if cluster is None:
        return None
    pid = int((cluster / "data" / "postmaster.pid").read_text().split()[0])
    total = _proc_cpu(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == pid:
            total += _proc_cpu(int(stat.parent.name))
    return total


def phases(cmd: list[str], cluster: Path | None) -> tuple[list[tuple[str, float, float,
                                                                      float | None]], int]:
    """Run ``cmd`` (a sqlite2pg run, not quiet) and time each of its steps from its log:
    (step, wall s, client CPU s, server CPU s) and the exit code. The client's CPU includes
    its worker processes; the server's, every backend of the cluster."""
    env = {**os.environ, "SQLITE2PG_PROGRESS_INTERVAL": "3600"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stderr is not None
    marks: list[tuple[str, float, float, float | None]] = [
        ("start", start, 0.0, server_cpu(cluster))]
    for line in proc.stderr:
        step = line.split("STEP", 1)
        if len(step) == 2 and step[1].split()[0] in STEPS:
            name = STEPS[step[1].split()[0]]
            marks.append((name, time.perf_counter(), _proc_cpu(proc.pid),
                          server_cpu(cluster)))
    _pid, status, usage = os.wait4(proc.pid, 0)
    # (wait4's usage includes the processes the child reaped: the verify's workers)
    marks.append(("end", time.perf_counter(), usage.ru_utime + usage.ru_stime,
                  server_cpu(cluster)))
    out = []
    for (name, t, c, srv), (_n, t2, c2, srv2) in itertools.pairwise(marks):
        out.append(("startup" if name == "start" else name, t2 - t, c2 - c,
                    None if srv is None or srv2 is None else srv2 - srv))
    return out, os.waitstatus_to_exitcode(status)


ROW_COUNT = ("SELECT (SELECT count(*) FROM api_logs) + (SELECT count(*) FROM users) + "
             "(SELECT count(*) FROM tenants) + (SELECT count(*) FROM subscriptions) + "
             "(SELECT count(*) FROM tenant_lattices) + (SELECT count(*) FROM "
             "lattice_operations) + (SELECT count(*) FROM webhooks) + (SELECT count(*) FROM "
             "webhook_deliveries)")


def fresh_db(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(admin)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo("", **info)


def as_url(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return (f"pgsql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
            f"{info.get('port', 5432)}/{info['dbname']}")


def export_csv(db: Path, out: Path) -> object:
    """Each table to a CSV file PostgreSQL can COPY (blobs as \\x hex); returns the plan."""
    from transfer.plan import build_plan

    plan = build_plan(db)
    out.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(out, "postgres")
    for t in plan.tables:
        cols = []
        for c in t.columns:
            q = '"' + c.name.replace('"', '""') + '"'
            cols.append(f"'\\x' || hex({q})" if c.pg_type == "bytea" else q)
        path = out / f"{t.pg_name}.csv"
        query = f'SELECT {", ".join(cols)} FROM "{t.name}"'
        with path.open("wb") as f:
            subprocess.run(["sqlite3", "-csv", str(db), query], stdout=f, check=True)
    return plan


def copy_reference(dsn: str, plan: object, files: Path) -> float:
    from transfer import ddl

    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for st in ddl.pre_data(plan):  # type: ignore[arg-type]
            conn.execute(st.sql.encode())
        for t in plan.tables:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("COPY {} FROM {} (FORMAT csv)").format(
                sql.Identifier(t.pg_name), sql.Literal(str(files / f"{t.pg_name}.csv"))))
        for st in ddl.post_data(plan):  # type: ignore[arg-type]
            conn.execute(st.sql.encode())
    return time.perf_counter() - start


def write_cost(db: Path, writes: int = 2000) -> float:
    """Seconds per single-row write transaction (an insert and an update in turn)."""
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    start = time.perf_counter()
    for i in range(writes):
        conn.execute("BEGIN IMMEDIATE")
        if i % 2:
            conn.execute("UPDATE users SET full_name = ? WHERE id = ?", (f"w{i}", i % 100 + 1))
        else:
            conn.execute("INSERT INTO api_logs (tenant_id, method, path, status_code, "
                         "duration_ms, request_id, created_at) VALUES (1, 'GET', '/b', 200, 1.5,"
                         " ?, '2026-01-01 00:00:00')", (f"b{i}",))
        conn.execute("COMMIT")
    conn.close()
    return (time.perf_counter() - start) / writes


def live(db: Path, admin: str, work: Path, py: str) -> None:
    import sqlite3

    copy = work / "live.db"
    shutil.copyfile(db, copy)
    for journal in ("DELETE", "WAL"):
        with sqlite3.connect(copy) as conn:
            conn.execute(f"PRAGMA journal_mode={journal}")
            conn.execute("CREATE TABLE IF NOT EXISTS tags (tenant_id INTEGER, tag TEXT, "
                         "rowid_hint INTEGER, PRIMARY KEY (tenant_id, tag)) WITHOUT ROWID")
        plain = write_cost(copy)
        subprocess.run([py, "-m", "transfer", "capture", "start", str(copy)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        captured = write_cost(copy)
        subprocess.run([py, "-m", "transfer", "capture", "stop", str(copy)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"write transaction ({journal.lower()} journal): {plain * 1e6:.0f} us without "
              f"the capture, {captured * 1e6:.0f} us with it ({(captured - plain) * 1e6:+.0f} "
              "us per write)", flush=True)
    stop = work / "live.stop"
    stop.unlink(missing_ok=True)
    dsn = fresh_db(admin, "bench_live")
    writer = subprocess.Popen([py, str(ROOT / "tests" / "apps" / "live_writer.py"), str(copy),
                               str(stop), "200"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        wall, rss, rc, tail = timed([py, "-m", "transfer", "run", str(copy), "--to", dsn,
                                     "--live", "--quiet"])
        if rc != 0:
            sys.exit(f"run --live failed ({rc}):\n{tail}")
        print(f"run --live {wall:.2f} s, {rss:.0f} MiB peak RSS", flush=True)
        follow = subprocess.Popen([py, "-m", "transfer", "sync", str(copy), "--to", dsn,
                                   "--follow"], stderr=subprocess.PIPE, text=True)
        time.sleep(8)
        follow.send_signal(2)
        _out, err = follow.communicate(timeout=60)
        lags = [line for line in err.splitlines() if "pending" in line]
        print("sync --follow: " + (lags[-1].strip() if lags else "no lag line"), flush=True)
        wall, rss, rc, tail = timed([py, "-m", "transfer", "cutover", str(copy), "--to", dsn,
                                     "--then", f"touch {stop}"])
        if rc != 0:
            sys.exit(f"cutover failed ({rc}):\n{tail}")
        print(f"cutover {wall:.2f} s: {tail.splitlines()[-1] if tail else ''}", flush=True)
    finally:
        stop.touch()
        out, _err = writer.communicate(timeout=120)
    writes, longest, slowest = out.split()
    print(f"the writer committed {writes} transactions; its longest wait for a write (the "
          f"cutover's pause as it sees it): {float(longest):.3f} s; its longest transaction, "
          f"from BEGIN to COMMIT: {float(slowest):.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dsn", help="an existing server's admin DSN (default: throwaway cluster)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sqlite2pg-bench")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip", action="append", default=[], help="pgloader, copy-reference")
    ap.add_argument("--live", action="store_true", help="measure the live cutover instead")
    ap.add_argument("--compare-scale", type=float, help="also time one run at this scale "
                    "(time per million rows should stay flat)")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / f"saas-{args.scale:g}.db"
    if not db.exists():
        print(f"building {db} ...", flush=True)
        make_fixture.build(db, scale=args.scale)
    rows = int(subprocess.run(["sqlite3", str(db), ROW_COUNT], capture_output=True, text=True,
                              check=True).stdout)
    size = db.stat().st_size / 2**20

    cluster = None
    admin = args.dsn
    if admin is None:
        cluster = Path(tempfile.mkdtemp(prefix="sqlite2pg-bench-pg-"))
        admin = pgcluster.start(cluster)
    try:
        if args.live:
            py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() \
                else sys.executable
            print(f"SaaS fixture scale {args.scale:g}: {rows} rows, {size:.0f} MiB", flush=True)
            live(db, admin, args.work, py)
            return
        results: dict[str, list[tuple[float, float]]] = {}
        plan = None
        files = args.work / f"csv-{args.scale:g}"
        if "copy-reference" not in args.skip:
            plan = export_csv(db, files)
        py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() \
            else sys.executable
        for i in range(args.repeat):
            dsn = fresh_db(admin, "bench_sqlite2pg")
            wall, rss, rc, tail = timed([py, "-m", "transfer", "run", str(db), "--to", dsn,
                                         "--no-verify", "--quiet"])
            if rc != 0:
                sys.exit(f"sqlite2pg run failed ({rc}):\n{tail}")
            results.setdefault("sqlite2pg run", []).append((wall, rss))
            print(f"[{i + 1}] sqlite2pg run   {wall:6.2f} s  {rss:6.0f} MiB\n{tail}", flush=True)
            wall, rss, rc, tail = timed([py, "-m", "transfer", "verify", str(db), "--to", dsn])
            if rc != 0:
                sys.exit(f"sqlite2pg verify failed ({rc}):\n{tail}")
            results.setdefault("sqlite2pg verify", []).append((wall, rss))
            print(f"[{i + 1}] sqlite2pg verify {wall:6.2f} s  {rss:6.0f} MiB", flush=True)
            plan_file = args.work / f"plan-{args.scale:g}.json"
            subprocess.run([py, "-m", "transfer", "plan", str(db), "-o", str(plan_file)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for label, extra in (("run --order source", ["--order", "source"]),
                                 ("run --plan FILE", ["--plan", str(plan_file)]),
                                 ("run --plan FILE --order source",
                                  ["--plan", str(plan_file), "--order", "source"])):
                dsn = fresh_db(admin, "bench_sqlite2pg")
                wall, rss, rc, tail = timed([py, "-m", "transfer", "run", str(db), "--to", dsn,
                                             "--no-verify", "--quiet", *extra])
                if rc != 0:
                    sys.exit(f"sqlite2pg {label} failed ({rc}):\n{tail}")
                results.setdefault(f"sqlite2pg {label}", []).append((wall, rss))
                print(f"[{i + 1}] sqlite2pg {label} {wall:6.2f} s  {rss:6.0f} MiB", flush=True)
            if "pgloader" not in args.skip:
                if shutil.which("pgloader") is None:
                    sys.exit("pgloader is not installed: apt-get install -y pgloader, or "
                             "--skip pgloader")
                dsn = fresh_db(admin, "bench_pgloader")
                wall, rss, rc, tail = timed(["pgloader", f"sqlite://{db}", as_url(dsn)])
                results.setdefault("pgloader", []).append((wall, rss))
                print(f"[{i + 1}] pgloader        {wall:6.2f} s  {rss:6.0f} MiB (exit {rc})",
                      flush=True)
            if plan is not None:
                dsn = fresh_db(admin, "bench_copy")
                wall = copy_reference(dsn, plan, files)
                results.setdefault("copy-reference", []).append((wall, 0.0))
                print(f"[{i + 1}] copy reference  {wall:6.2f} s", flush=True)
        dsn = fresh_db(admin, "bench_sqlite2pg")
        steps, rc = phases([py, "-m", "transfer", "run", str(db), "--to", dsn], cluster)
        if rc != 0:
            sys.exit(f"sqlite2pg run (phases) failed ({rc})")
        other = None
        if args.compare_scale:
            other = compare_scale(args.compare_scale, args.work, admin, py)
    finally:
        if cluster is not None:
            pgcluster.stop(cluster)
            shutil.rmtree(cluster, ignore_errors=True)

    print("\nOne default run with its verify, step by step (client: sqlite2pg and its worker "
          "processes; server: every PostgreSQL process):")
    print(f"{'step':<22} {'wall s':>8} {'client CPU s':>13} {'server CPU s':>13}")
    for name, wall, cpu, srv in steps:
        print(f"{name:<22} {wall:>8.2f} {cpu:>13.2f} "
              f"{'' if srv is None else f'{srv:.2f}':>13}")
    print(f"{'total':<22} {sum(w for _n, w, _c, _s in steps):>8.2f} "
          f"{sum(c for _n, _w, c, _s in steps):>13.2f} "
          f"{sum(s or 0.0 for _n, _w, _c, s in steps):>13.2f}")
    best = {k: min(v) for k, v in results.items()}
    print(f"\nSaaS fixture scale {args.scale:g}: {rows} rows, {size:.0f} MiB; "
          f"{os.cpu_count()} cores; best of {args.repeat}")
    print(f"{'':<30} {'wall s':>8} {'rows/s':>10} {'peak RSS MiB':>13}")
    for k, (wall, rss) in best.items():
        print(f"{k:<30} {wall:>8.2f} {rows / wall:>10.0f} {rss if rss else float('nan'):>13.0f}")
    for run in [k for k in best if k.startswith("sqlite2pg run")]:
        for k in ("pgloader", "copy-reference"):
            if k in best:
                print(f"{run} / {k}: {best[run][0] / best[k][0]:.2f}")
    ours = best["sqlite2pg run"][0]
    print(f"sqlite2pg verify / run: {best['sqlite2pg verify'][0] / ours:.2f}")
    if other is not None:
        scale, other_rows, other_wall = other
        print(f"time per million rows: scale {args.scale:g} {ours / rows * 1e6:.2f} s, scale "
              f"{scale:g} {other_wall / other_rows * 1e6:.2f} s (run --no-verify; scale "
              f"{scale:g} / scale {args.scale:g}: {other_wall / ours:.2f})")


def compare_scale(scale: float, work: Path, admin: str, py: str) -> tuple[float, int, float]:
    """(scale, rows, wall s) of one default run --no-verify at another scale."""
    db = work / f"saas-{scale:g}.db"
    if not db.exists():
        print(f"building {db} ...", flush=True)
        make_fixture.build(db, scale=scale)
    rows = int(subprocess.run(["sqlite3", str(db), ROW_COUNT], capture_output=True, text=True,
                              check=True).stdout)
    dsn = fresh_db(admin, "bench_sqlite2pg")
    wall, rss, rc, tail = timed([py, "-m", "transfer", "run", str(db), "--to", dsn,
                                 "--no-verify", "--quiet"])
    if rc != 0:
        sys.exit(f"sqlite2pg run at scale {scale:g} failed ({rc}):\n{tail}")
    print(f"scale {scale:g}: sqlite2pg run {wall:6.2f} s  {rss:6.0f} MiB", flush=True)
    return scale, rows, wall


if __name__ == "__main__":
    main()
