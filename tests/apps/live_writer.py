"""An application writing to its SQLite database while it is migrated: inserts, updates,
deletes, a key change, a WITHOUT ROWID table. It stops when STOP exists (checked inside its
write transaction, so that a write never lands after the cutover's --then created it), and
prints how many transactions it committed, its longest wait to begin one (for the cutover's
write lock) and the longest one took from BEGIN to COMMIT (with a rollback journal, a
commit also waits for the readers)."""

import os
import random
import sqlite3
import sys
import time

db, stop = sys.argv[1], sys.argv[2]
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 200.0
conn = sqlite3.connect(db, isolation_level=None, timeout=60)
rng = random.Random(7)
done, longest, slowest = 0, 0.0, 0.0
tenant_ids = [r[0] for r in conn.execute("SELECT id FROM tenants")]
while True:
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    longest = max(longest, time.monotonic() - started)  # (the cutover's pause included)
    if os.path.exists(stop):
        conn.execute("ROLLBACK")
        break
    op = done % 6
    tenant = rng.choice(tenant_ids)
    if op == 0:
        conn.execute("INSERT INTO api_logs (tenant_id, method, path, status_code, duration_ms, "
                     "request_id, meta, created_at) VALUES (?, 'GET', '/live', 200, ?, ?, "
                     "'{\"live\": true}', '2026-12-03 10:00:00')",
                     (tenant, rng.random(), f"live-{done}"))
    elif op == 1:
        conn.execute("UPDATE users SET full_name = ? WHERE id = (SELECT id FROM users "
                     "ORDER BY random() LIMIT 1)", (f"renamed {done}",))
    elif op == 2:
        conn.execute("DELETE FROM webhook_deliveries WHERE id = (SELECT min(id) FROM "
                     "webhook_deliveries)")
    elif op == 3:  # a key change
        conn.execute("UPDATE lattice_operations SET id = id + 1000000 WHERE id = (SELECT "
                     "min(id) FROM lattice_operations WHERE id < 1000000)")
    elif op == 4:
        conn.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                     (tenant, f"t{done % 50}", done))
    else:
        conn.execute("DELETE FROM tags WHERE rowid_hint = (SELECT min(rowid_hint) FROM tags)")
    conn.execute("COMMIT")  # (with a rollback journal, the wait for readers is here)
    slowest = max(slowest, time.monotonic() - started)
    done += 1
    time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
print(done, round(longest, 4), round(slowest, 4))
