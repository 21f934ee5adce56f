#!/usr/bin/env python3
"""A throwaway local PostgreSQL cluster, for the tests, the demo and the benchmark.

    python scripts/pgcluster.py start DIR   # prints the DSN
    python scripts/pgcluster.py stop DIR
    python scripts/pgcluster.py which       # the server binaries' directory, or exit 1

Finds the server binaries (pg_config --bindir, then /usr/lib/postgresql/*/bin), runs
initdb and pg_ctl (as the ``postgres`` user when run as root: initdb refuses root), and
listens on a free port on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path


def find_bindir() -> Path | None:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists() and (d / "postgres").exists():
            return d
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start(base: Path) -> str:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries found (install Debian's 'postgresql')")
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        os.chmod(base, 0o755)
    if not data.exists():
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                                  "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                                  "--no-sync"]), check=True, capture_output=True)
    port = free_port()
    opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50 "
            "-c shared_buffers=256MB -c max_wal_size=4GB")
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w",
                              "-l", str(base / "log"), "start"]), check=True, capture_output=True)
    (base / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(base: Path) -> None:
    bindir = find_bindir()
    if bindir is None or not (base / "data").exists():
        return
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
                              "stop"]), capture_output=True)


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] == "which":
        bindir = find_bindir()
        if bindir is None:
            sys.exit("no PostgreSQL server binaries found")
        print(bindir)
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: pgcluster.py which | start DIR | stop DIR")
    base = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(start(base))
    else:
        stop(base)


if __name__ == "__main__":
    main()
