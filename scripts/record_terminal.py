"""Record what an operator sees on a terminal during plan, run and verify, as text.

    .venv/bin/python scripts/record_terminal.py [--scale 1] [--out docs/terminal.txt]

Builds the benchmark fixture (scripts/make_fixture.py), starts a disposable PostgreSQL
cluster (scripts/pgcluster.py), and runs each command under ``script`` (util-linux), so
that sqlite2pg writes to a real terminal (a pseudo-terminal of 100 columns). The raw
recording is rendered as text: each line with the second it appeared at; a progress line
the terminal rewrote in place is shown as ``~`` lines, at most one per second.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ESCAPE = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


def record(command: str, workdir: Path) -> list[tuple[float, bytes]]:
    """Run ``command`` on a pseudo-terminal: (seconds since start, bytes) chunks."""
    raw, timing = workdir / "raw", workdir / "timing"
    env = {**os.environ, "COLUMNS": "100", "LINES": "30", "TERM": "xterm"}
    subprocess.run(["script", "-q", "-e", "--log-out", str(raw), "--log-timing", str(timing),
                    "-c", command], env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, check=False)
    data = raw.read_bytes()
    data = data[data.index(b"\n") + 1:]  # (script's own header line)
    chunks, at, pos = [], 0.0, 0
    for line in timing.read_text().splitlines():
        delay, size = line.split()
        at += float(delay)
        chunks.append((at, data[pos:pos + int(size)]))
        pos += int(size)
    return chunks


def render(chunks: list[tuple[float, bytes]]) -> list[str]:
    """Lines as the terminal showed them, with the second each appeared at; the states of
    a line rewritten in place (progress) as ``~`` lines, at most one a second."""
    out: list[str] = []
    line = b""
    began = 0.0  # when the line being drawn got its first byte
    last_shown = -1.0

    def emit(at: float, text: bytes, mark: str) -> None:
        shown = ESCAPE.sub(b"", text).decode(errors="replace").rstrip()
        if shown:
            out.append(f"{at:6.1f} s {mark} {shown}")

    for at, data in chunks:
        data = data.replace(b"\r\n", b"\n")
        for piece in re.split(rb"(\n|\r)", data):
            if piece == b"\n":
                emit(began, line, "|")
                line = b""
            elif piece == b"\r":
                if ESCAPE.sub(b"", line).strip() and began - last_shown >= 1.0:
                    emit(began, line, "~")
                    last_shown = began
                line = b""
            elif piece:
                if not line:
                    began = at
                line += piece
    if line.strip():
        emit(chunks[-1][0] if chunks else 0.0, line, "|")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "terminal.txt")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlite2pg-rec-") as tmp:
        work = Path(tmp)
        db = work / "saas.db"
        subprocess.run([PY, str(ROOT / "scripts" / "make_fixture.py"), str(db),
                        "--scale", str(args.scale)], check=True, stdout=subprocess.DEVNULL)
        pgdir = Path(tempfile.mkdtemp(prefix="sqlite2pg-rec-pg-"))  # (the server's own)
        dsn = subprocess.run([PY, str(ROOT / "scripts" / "pgcluster.py"), "start", str(pgdir)],
                             check=True, capture_output=True, text=True).stdout.strip()
        exe = shlex.quote(str(Path(PY).parent / "sqlite2pg"))
        shown_dsn = "postgresql://postgres@127.0.0.1/postgres"
        steps = [("sqlite2pg plan saas.db -o plan.json > plan.txt; head -n 30 plan.txt",
                  f"cd {work} && {exe} plan saas.db -o plan.json > plan.txt; head -n 30 plan.txt"),
                 (f"sqlite2pg run saas.db --plan plan.json --to {shown_dsn} --report report.md",
                  f"cd {work} && {exe} run saas.db --plan plan.json --to {shlex.quote(dsn)} "
                  "--report report.md"),
                 (f"sqlite2pg verify saas.db --to {shown_dsn}",
                  f"cd {work} && {exe} verify saas.db --to {shlex.quote(dsn)}")]
        lines = ["# What sqlite2pg shows on a terminal (100 columns): plan, run and verify of the",
                 f"# benchmark fixture (scripts/make_fixture.py --scale {args.scale:g}), recorded "
                 "by scripts/record_terminal.py.",
                 "# Each line: the second it appeared at; '~': a state of the progress line, "
                 "which the terminal",
                 "# rewrites in place (one a second shown); '|': a line that stays.", ""]
        try:
            for shown, command in steps:
                lines += [f"$ {shown}"]
                lines += render(record(command, work))
                lines.append("")
        finally:
            subprocess.run([PY, str(ROOT / "scripts" / "pgcluster.py"), "stop", str(pgdir)],
                           check=False, capture_output=True)
            shutil.rmtree(pgdir, ignore_errors=True)
        text = "\n".join(lines).replace(str(work), ".").replace(dsn, shown_dsn)
        args.out.write_text(text + "\n")
        print(f"recorded {len(lines)} lines in {args.out}")


if __name__ == "__main__":
    main()
