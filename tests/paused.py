"""Start sqlite2pg paused at a crash point (``SQLITE2PG_PAUSE_AT``, see transfer/faults.py)
and kill it there: SIGKILL at a known moment, as a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _foreground() -> None:
    """SIGINT as a terminal's foreground process has it: a shell starts background jobs
    (a CI runner's too, sometimes) with SIGINT ignored, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_paused(point: str, *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.Popen[str]:
    """Start ``sqlite2pg ARGS`` and return once it is paused at ``point``."""
    proc = subprocess.Popen([sys.executable, "-m", "transfer", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), "SQLITE2PG_PAUSE_AT": point},
                            preexec_fn=_foreground)
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if f"paused at {point}" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"sqlite2pg never paused at {point}: {''.join(seen)}")


def kill_at(point: str, *args: str, env: dict[str, str] | None = None) -> None:
    """Run ``sqlite2pg ARGS`` until it pauses at ``point``, then SIGKILL it."""
    proc = start_paused(point, *args, env=env)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
