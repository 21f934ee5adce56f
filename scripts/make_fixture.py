#!/usr/bin/env python3
"""Build the SaaS fixture database: schemas/saas.sql filled deterministically.

    python scripts/make_fixture.py OUT.db [--scale 1.0]

Scale 1 is 993,500 rows (api_logs 800,000). Rows are generated inside SQLite with
recursive CTEs and integer hashing, so the same scale always gives the same file content.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# rows at scale 1
COUNTS = {
    "tenants": 500, "users": 20_000, "subscriptions": 1_000, "api_logs": 800_000,
    "tenant_lattices": 2_000, "lattice_operations": 100_000, "webhooks": 1_000,
    "webhook_deliveries": 69_000,
}

# h(i, k): a deterministic pseudo-random non-negative integer for row i and salt k.
H = "((({i} * 2654435761 + {k} * 40503) % 4294967291 + 4294967291) % 4294967291)"


def h(i: str, k: int) -> str:
    return H.format(i=i, k=k)


def ts(i: str, k: int) -> str:
    """An ISO timestamp in 2023-2024 with microseconds, as ORMs write them."""
    return (f"strftime('%Y-%m-%d %H:%M:%S', 1672531200 + {h(i, k)} % 63072000, 'unixepoch') "
            f"|| '.' || substr('000000' || ({h(i, k + 1)} % 1000000), -6)")


def inserts(counts: dict[str, int]) -> list[str]:
    n = counts
    seq = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
    return [
        seq.format(n=n["tenants"]) +
        "INSERT INTO tenants (id, name, slug, plan, is_active, settings, created_at) "
        f"SELECT i, 'Tenant ' || i, 'tenant-' || i, "
        f"CASE {h('i', 1)} % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'team' ELSE 'enterprise' END, "
        f"({h('i', 2)} % 10) > 0, "
        f"CASE WHEN i % 7 = 0 THEN NULL ELSE json_object('seats', {h('i', 3)} % 500, "
        f"'region', CASE i % 3 WHEN 0 THEN 'eu' WHEN 1 THEN 'us' ELSE 'ap' END, "
        f"'sso', json(CASE WHEN i % 2 THEN 'true' ELSE 'false' END)) END, {ts('i', 4)} FROM s",

        seq.format(n=n["users"]) +
        "INSERT INTO users (id, tenant_id, email, full_name, role, is_admin, last_login_at, "
        "created_at) "
        f"SELECT i, 1 + (i - 1) % {n['tenants']}, 'user' || i || '@example.com', "
        f"CASE WHEN i % 11 = 0 THEN NULL ELSE 'User Ünïcode ' || i END, "
        f"CASE {h('i', 5)} % 4 WHEN 0 THEN 'owner' WHEN 1 THEN 'admin' ELSE 'member' END, "
        f"({h('i', 6)} % 20) = 0, CASE WHEN i % 5 = 0 THEN NULL ELSE {ts('i', 7)} END, "
        f"{ts('i', 8)} FROM s",

        seq.format(n=n["subscriptions"]) +
        "INSERT INTO subscriptions (id, tenant_id, plan, seats, price, currency, status, "
        "started_at, ends_at) "
        f"SELECT i, 1 + (i - 1) % {n['tenants']}, "
        f"CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'team' ELSE 'enterprise' END, "
        f"1 + {h('i', 9)} % 200, ({h('i', 10)} % 100000) / 100.0 + 0.03, "
        f"CASE i % 4 WHEN 0 THEN 'EUR' ELSE 'USD' END, "
        f"CASE i % 5 WHEN 0 THEN 'canceled' ELSE 'active' END, {ts('i', 11)}, "
        f"CASE WHEN i % 5 = 0 THEN {ts('i', 12)} END FROM s",

        seq.format(n=n["api_logs"]) +
        "INSERT INTO api_logs (id, tenant_id, user_id, method, path, status_code, "
        "duration_ms, request_id, meta, created_at) "
        f"SELECT i, 1 + {h('i', 13)} % {n['tenants']}, "
        f"CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + {h('i', 14)} % {n['users']} END, "
        f"CASE {h('i', 15)} % 5 WHEN 0 THEN 'POST' WHEN 1 THEN 'PUT' WHEN 2 THEN 'DELETE' "
        f"ELSE 'GET' END, '/api/v1/' || "
        f"CASE {h('i', 16)} % 4 WHEN 0 THEN 'users' WHEN 1 THEN 'lattices' WHEN 2 THEN "
        f"'webhooks' ELSE 'billing' END || '/' || ({h('i', 17)} % 100000), "
        f"CASE WHEN {h('i', 18)} % 50 = 0 THEN 500 WHEN {h('i', 18)} % 10 = 0 THEN 404 "
        f"ELSE 200 END, ({h('i', 19)} % 5000000) / 1000.0 + 0.0001 * (i % 7), "
        f"lower(printf('%08x-%04x-4%03x-a%03x-%012x', {h('i', 20)}, {h('i', 21)} % 65536, "
        f"{h('i', 22)} % 4096, {h('i', 23)} % 4096, {h('i', 24)} * 65536 + i % 65536)), "
        f"CASE WHEN i % 4 = 0 THEN NULL ELSE json_object('ip', '10.' || (i % 256) || '.' || "
        f"({h('i', 25)} % 256) || '.1', 'ua', 'client/' || (i % 13), 'bytes', "
        f"{h('i', 26)} % 100000) END, {ts('i', 27)} FROM s",

        seq.format(n=n["tenant_lattices"]) +
        "INSERT INTO tenant_lattices (id, tenant_id, name, dimensions, payload, checksum, "
        "updated_at) "
        f"SELECT i, 1 + (i - 1) % {n['tenants']}, 'lattice-' || i, 1 + i % 8, "
        f"randomblob(0) || zeroblob(16 + i % 48) || x'00ff' || CAST(i AS BLOB), "
        f"printf('%016x%016x', {h('i', 28)}, {h('i', 29)}), {ts('i', 30)} FROM s",

        seq.format(n=n["lattice_operations"]) +
        "INSERT INTO lattice_operations (id, lattice_id, tenant_id, op, weight, applied, "
        "created_at) "
        f"SELECT i, 1 + (i - 1) % {n['tenant_lattices']}, "
        f"1 + ((i - 1) % {n['tenant_lattices']}) % {n['tenants']}, "
        f"CASE i % 4 WHEN 0 THEN 'join' WHEN 1 THEN 'meet' WHEN 2 THEN 'project' "
        f"ELSE 'embed' END, CASE WHEN i % 10 = 0 THEN NULL ELSE "
        f"({h('i', 31)} % 1000000) / 7.0 END, i % 3 = 0, {ts('i', 32)} FROM s",

        seq.format(n=n["webhooks"]) +
        "INSERT INTO webhooks (id, tenant_id, url, secret, events, is_active, created_at) "
        f"SELECT i, 1 + (i - 1) % {n['tenants']}, 'https://hooks.example.com/t/' || i, "
        f"printf('%016x', {h('i', 33)}), "
        f"json_array('user.created', CASE WHEN i % 2 THEN 'invoice.paid' ELSE 'log.flushed' "
        f"END), i % 6 > 0, {ts('i', 34)} FROM s",

        seq.format(n=n["webhook_deliveries"]) +
        "INSERT INTO webhook_deliveries (id, webhook_id, tenant_id, status_code, attempt, "
        "response_body, payload, delivered_at) "
        f"SELECT i, 1 + (i - 1) % {n['webhooks']}, "
        f"1 + ((i - 1) % {n['webhooks']}) % {n['tenants']}, "
        f"CASE WHEN i % 13 = 0 THEN NULL ELSE 200 END, 1 + i % 3, "
        f"CASE WHEN i % 3 = 0 THEN NULL ELSE 'ok ' || i || char(10) || 'tab' || char(9) || "
        f"'end \\N' END, json_object('event', 'user.created', 'id', i, 'amount', "
        f"({h('i', 35)} % 100000) / 100.0), CASE WHEN i % 13 = 0 THEN NULL ELSE "
        f"{ts('i', 36)} END FROM s",
    ]


def build(out: Path, scale: float = 1.0) -> dict[str, int]:
    counts = {t: max(1, round(c * scale)) for t, c in COUNTS.items()}
    if out.exists():
        out.unlink()
    conn = sqlite3.connect(out)
    conn.executescript((ROOT / "schemas" / "saas.sql").read_text())
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for stmt in inserts(counts):
        conn.execute(stmt)
    # AUTOINCREMENT's counter: ahead of max(id) for tenants, as after deleted rows.
    conn.execute("UPDATE sqlite_sequence SET seq = seq + 100 WHERE name = 'tenants'")
    conn.execute("INSERT OR REPLACE INTO sqlite_sequence (name, seq) "
                 "SELECT 'tenants', max(id) + 100 FROM tenants")
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    counts = build(args.out, args.scale)
    print(f"{args.out}: {sum(counts.values())} rows in {time.perf_counter() - t0:.1f} s "
          f"({args.out.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
