"""Every default and the environment variable that overrides it, side by side."""

from __future__ import annotations

import os

ENV_PREFIX = "SQLITE2PG_"


def _int(name: str, default: int) -> int:
    value = os.environ.get(ENV_PREFIX + name)
    return int(value) if value else default


# Rows per Arrow record batch read from SQLite and sent through COPY (bounds memory: with
# two copy streams, 16,384 rows took 13 MiB more peak RSS than 8,192 on the benchmark, and
# were no faster).
BATCH_ROWS = _int("BATCH_ROWS", 8_192)
# Rows per committed chunk of a table's copy (the unit a resumed run continues from).
CHUNK_ROWS = _int("CHUNK_ROWS", 1_000_000)
# Tables copied at the same time (copy streams), and post-data sessions.
JOBS = _int("JOBS", max(1, min(4, os.cpu_count() or 1)))
# Rows profiled per table (0 = every row).
SAMPLE_ROWS = _int("SAMPLE", 0)
# Seconds between two progress lines when the output is not a terminal (a log file).
PROGRESS_INTERVAL = float(os.environ.get(ENV_PREFIX + "PROGRESS_INTERVAL") or 5)
# Differing rows listed per table by verify.
VERIFY_LIMIT = _int("VERIFY_LIMIT", 20)
# Rows per checksum chunk in verify.
VERIFY_CHUNK_ROWS = _int("VERIFY_CHUNK_ROWS", 50_000)
# PostgreSQL's limits.
PG_MAX_IDENTIFIER_BYTES = 63
PG_MAX_COLUMNS = 1600
# Name prefix of the staging schemas a run loads into before switching them in.
STAGING_PREFIX = "sqlite2pg_staging_"
# Name prefix of the schemas kept aside by --if-exists replace, for rollback.
BACKUP_PREFIX = "sqlite2pg_old_"
# Name prefix of the schemas a rollback moves the rolled-back run's tables into.
ROLLED_BACK_PREFIX = "sqlite2pg_rolledback_"
# PostgreSQL session timeouts of every session (a duration: 0, 500ms, 30s, 5min). A lock
# wait longer than the lock timeout (e.g. the switch waiting for an application's
# transaction on a replaced table) stops the run, resumable; 0 waits.
LOCK_TIMEOUT = os.environ.get(ENV_PREFIX + "LOCK_TIMEOUT", "0")
STATEMENT_TIMEOUT = os.environ.get(ENV_PREFIX + "STATEMENT_TIMEOUT", "0")
