"""Progress of a long step, for the operator: one line rewritten in place on a terminal,
timestamped lines otherwise (a log file, CI).

A phase counts units (rows, tables, statements) towards a known total; the line shows
the count, the share done, the rate, the elapsed time and an estimate of what remains.
``log`` lines (each table's final counts among them) are printed above the progress
line (unless --quiet), so that a log read afterwards has every final count.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from transfer import faults
from transfer.settings import PROGRESS_INTERVAL

if TYPE_CHECKING:
    from transfer.copier import TableResult
    from transfer.model import TablePlan
    from transfer.state import TableProgress


@dataclass
class _Phase:
    name: str
    total: int
    unit: str
    start: float
    done: int = 0
    nbytes: int = 0
    current: str = ""
    extra: dict[str, int] = field(default_factory=dict)


def clock_text(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """The progress of one command on ``stream`` (stderr). Thread-safe: the copy reports
    from its writer threads."""

    active: Progress | None = None  # the one with a line on the terminal now

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 quiet: bool = False, interval: float = PROGRESS_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, silent: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.silent = silent  # prints nothing at all (a library caller's default)
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.interval = interval
        self.clock = clock
        self.phase: _Phase | None = None
        self.lock = threading.RLock()
        self.shown = False  # a progress line is on the terminal
        self.last = 0.0

    # -- phases ---------------------------------------------------------------------------
    def begin(self, name: str, total: int, unit: str = "rows") -> None:
        with self.lock:
            self.phase = _Phase(name, total, unit, self.clock())
            self.last = self.clock()

    def update(self, name: str, done: int, *, nbytes: int | None = None, current: str = "",
               **extra: int) -> None:
        """``done`` units of phase ``name`` (ignored when another phase is current)."""
        with self.lock:
            p = self.phase
            if p is None or p.name != name:
                return
            p.done = done
            if nbytes is not None:
                p.nbytes = nbytes
            if current:
                p.current = current
            p.extra.update(extra)
            now = self.clock()
            if self.quiet or self.silent or now - self.last < (0.1 if self.tty else self.interval):
                return
            self.last = now
            self._show(self.line(p, now))

    def end(self, name: str) -> None:
        """The phase is over: its line goes (the caller logs the outcome)."""
        with self.lock:
            if self.phase is not None and self.phase.name == name:
                self.phase = None
            self.clear()

    def stop(self) -> None:
        """Whatever phase is current is over (an error ended it): its line goes."""
        with self.lock:
            self.phase = None
            self.clear()

    # -- lines ----------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        """A line of the run's log (a table's final counts too), above the progress line
        (timestamped off a terminal); --quiet keeps none (the summary says it all)."""
        if self.silent or self.quiet:
            return
        with self.lock:
            self.clear()
            prefix = "" if self.tty else time.strftime("%H:%M:%S ")
            self.stream.write(prefix + msg + "\n")
            self.stream.flush()
            if self.tty and self.phase is not None and not self.quiet:
                self._show(self.line(self.phase, self.clock()))

    def clear(self) -> None:
        """Take the progress line off the terminal (before a message of its own)."""
        with self.lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False
                Progress.active = None

    def _show(self, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((100, 24)).columns - 1
            self.stream.write("\r\x1b[K" + text[:width])
            self.shown = True
            Progress.active = self
        else:
            self.stream.write(time.strftime("%H:%M:%S ") + text + "\n")
        self.stream.flush()

    @staticmethod
    def line(p: _Phase, now: float) -> str:
        elapsed = now - p.start
        share = min(1.0, p.done / p.total) if p.total else 0.0
        parts = [f"{p.name:<9}"]
        if p.total:
            bar = "#" * int(share * 20) + "." * (20 - int(share * 20))
            parts.append(f"{bar} {share:4.0%}")
            parts.append(f"{p.done:,} of {p.total:,} {p.unit}")
        else:
            parts.append(f"{p.done:,} {p.unit}")
        for k, v in p.extra.items():  # (a count besides the unit: rows profiled)
            parts.append(f"{v:,} {k}" + (f" ({v / elapsed:,.0f}/s)" if elapsed >= 1 else ""))
        if p.nbytes:
            parts.append(f"{p.nbytes / 2**20:,.1f} MiB")
        if elapsed >= 1 and p.done:
            rate = p.done / elapsed
            parts.append(f"{rate:,.0f} {p.unit}/s")
        parts.append(f"elapsed {clock_text(elapsed)}")
        if elapsed >= 1 and p.done and p.total > p.done:
            parts.append(f"ETA {clock_text((p.total - p.done) * elapsed / p.done)}")
        if p.current:
            parts.append(p.current)
        return "  ".join(parts)


class CopyProgress:
    """The copy's progress: rows and MiB of all tables, and each table's final counts."""

    def __init__(self, meter: Progress, tables: list[TablePlan],
                 done: dict[str, TableProgress]) -> None:
        self.meter = meter
        self.lock = threading.Lock()
        self.batches: dict[str, int] = {}
        self.rows = {k.removeprefix("table "): v.rows for k, v in done.items()
                     if k.startswith("table ")}
        self.nbytes: dict[str, int] = {}
        meter.begin("copy", sum(t.rows for t in tables), "rows")

    def batch(self, table: str, rows: int, nbytes: int) -> None:
        with self.lock:
            self.batches[table] = self.batches.get(table, 0) + 1
            self.rows[table], self.nbytes[table] = rows, nbytes
            count = self.batches[table]
            self.meter.update("copy", sum(self.rows.values()),
                              nbytes=sum(self.nbytes.values()), current=table)
        if count == 3:  # (a crash point of the tests: a table part-copied)
            faults.pause(f"copy {table}")

    def then(self, ready: Callable[[str], None]) -> Callable[[TableResult], None]:
        """The copier's ``table_done``: say the table's counts, then ``ready``."""
        def done(r: TableResult) -> None:
            self.meter.log(f"        copied {r.table}: {r.rows:,} rows, "
                            f"{r.bytes / 2**20:,.1f} MiB sent, {r.seconds:.2f} s"
                            + (f", {r.rejected:,} rejected" if r.rejected else ""))
            ready(r.table)
        return done


def off() -> Progress:
    """A progress that prints nothing."""
    return Progress(silent=True, tty=False)


def clear_terminal_line() -> None:
    """Before an error or an interruption message: on its own line, not after a bar."""
    if Progress.active is not None:
        Progress.active.clear()
