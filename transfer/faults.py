"""A pause point for crash tests: ``SQLITE2PG_PAUSE_AT=<point>`` makes a run stop there
(inside its open transaction) and wait to be killed, so that tests can SIGKILL a real run
at a known moment. Points: ``plan`` (the profile done, nothing recorded in the target),
``pre-data``, ``copy <table>`` (when the third batch of that table is on its way),
``post-data`` (after some keys and indexes are committed), ``switch``, ``verify`` (after
the switch, before the final verify); for a live cutover ``sync commit`` (a batch of
changes applied, not committed), ``sync committed`` (just after), ``cutover`` (SQLite's
write lock taken) and ``cutover applied`` (the last changes applied and verified under the
lock, the cutover not yet recorded)."""

from __future__ import annotations

import os
import sys
import time

from transfer.settings import ENV_PREFIX


def pause(point: str) -> None:
    if os.environ.get(ENV_PREFIX + "PAUSE_AT") != point:
        return
    print(f"sqlite2pg: paused at {point}", file=sys.stderr, flush=True)
    while True:
        # short sleeps: a signal caught by another thread is handled when this one wakes
        time.sleep(0.05)
