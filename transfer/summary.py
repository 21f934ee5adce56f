"""What ``run`` leaves for people: the summary printed at the end (within 100 columns),
and the report attached to a change review, as Markdown or JSON.

The JSON report follows ``docs/report.schema.json`` (``REPORT_FORMAT`` names its
version); the Markdown report carries the same facts for people.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from transfer import __version__, ddl
from transfer.model import Note
from transfer.pipeline import RunResult
from transfer.target import show

REPORT_FORMAT = "sqlite2pg-report/1"

# What the objects of the summary count, in its order: (label, post-data statement phase).
OBJECTS = (("primary keys", "primary key"), ("unique constraints", "unique"),
           ("indexes", "index"), ("checks", "check"), ("foreign keys", "foreign key"),
           ("identities", "identity"))


@dataclass
class RunReport:
    """The facts of one ``run``, gathered once for the summary and both reports."""

    result: RunResult
    source: Path
    dsn: str
    schema: str
    started: datetime
    ended: datetime
    command: list[str] = field(default_factory=list)
    rejects_dir: Path | None = None
    data_only: bool = False  # loaded into the application's tables: nothing created

    # -- derived facts ------------------------------------------------------------------
    @property
    def outcome(self) -> str:
        """verified, differences, verify failed or not verified."""
        v = self.result.verified
        if v is None:
            return "not verified"
        if v.errors:
            return "verify failed"
        return "verified" if v.equal else "differences"

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.result.tables)

    @cached_property
    def verdicts(self) -> dict[str, str]:
        """Each verified table's status (none when not verified)."""
        v = self.result.verified
        return {t.table: t.status for t in v.tables} if v is not None else {}

    def verdict(self, table: str) -> str:
        return self.verdicts.get(table, "-")

    def objects(self) -> dict[str, int]:
        """Objects the run created in the target, by kind."""
        plan = self.result.plan
        if self.data_only:
            return {}
        phases = Counter(s.phase for s in ddl.post_data(plan))
        created = {"tables": len(plan.tables)}
        for label, phase in OBJECTS:
            created[label] = phases[phase]
        created["views"] = len(plan.views) - len(self.result.refused)
        return created

    def sizes(self) -> list[int]:
        """Bytes in PostgreSQL of the tables listed (those the server said)."""
        return [self.result.sizes[t.table] for t in self.result.tables
                if t.table in self.result.sizes]

    def not_carried(self) -> list[Note]:
        return [*self.result.plan.not_carried, *self.result.refused]

    def steps(self, digits: int = 2) -> dict[str, float]:
        """Each step's seconds rounded to ``digits``, in the order they ran, then "other"
        for the time between them and "total": shown so, they add up."""
        steps = {k: round(v, digits) for k, v in self.result.steps.items() if k != "total"}
        total = round(self.total_seconds, digits)
        other = round(total - sum(steps.values()), digits)
        if other > 0:
            steps["other"] = other
        steps["total"] = round(sum(steps.values()), digits)
        return steps

    @property
    def total_seconds(self) -> float:
        steps = self.result.steps
        return steps.get("total", sum(v for k, v in steps.items() if k != "total"))

    @property
    def copy_seconds(self) -> float:
        """The copy step's (``load`` for --data-only)."""
        return self.result.steps.get("copy", self.result.steps.get("load", 0.0))

    def rollback_command(self) -> str:
        return shlex.join(["sqlite2pg", "rollback", *(["--to", show(self.dsn)] if self.dsn
                                                      else []),
                           "--target-schema", self.schema])


# -- the summary (stdout) -------------------------------------------------------------------
def summary_lines(r: RunReport, decisions: bool = False) -> list[str]:
    """The end of ``run``'s output: a row per table and totals that add up, what was
    created and not carried, the time of each step, start and end. ``decisions``: also
    list the decisions (when the log that said them was not shown)."""
    res = r.result
    name_w = min(32, max([len("table"), *(len(t.table) for t in res.tables)]))
    head = (f"{'table':<{name_w}} {'rows':>12} {'rejected':>9} {'MiB sent':>9} "
            f"{'MiB in PG':>10} {'seconds':>8}  verified")
    out = [head, "-" * len(head)]
    for t in res.tables:
        size = res.sizes.get(t.table)
        out.append(f"{_cut(t.table, name_w):<{name_w}} {t.rows:>12,} {t.rejected:>9,} "
                   f"{t.bytes / 2**20:>9,.1f} {_mib(size):>10} {t.seconds:>8.2f}  "
                   f"{r.verdict(t.table)}")
    sizes = r.sizes()
    out.append("-" * len(head))
    out.append(f"{'total':<{name_w}} {sum(t.rows for t in res.tables):>12,} {r.rejected:>9,} "
               f"{sum(t.bytes for t in res.tables) / 2**20:>9,.1f} "
               f"{_mib(sum(sizes) if sizes else None):>10} {r.copy_seconds:>8.2f}  "
               f"{_verified_total(r)}")
    out += _wrap("(MiB sent: the rows as COPY sent them; MiB in PG: the tables with their "
                 "indexes; the total's seconds: the copy's, its tables overlapping)")
    objects = r.objects()
    out += _wrap("created: " + (", ".join(f"{n:,} {k}" for k, n in objects.items())
                                or "nothing (the rows went into the application's tables)"))
    missing = r.not_carried()
    out.append(f"not carried over: {len(missing)}" + (" (listed above)" if missing else ""))
    changed = len(res.plan.warnings)
    out += _wrap(f"decisions: {changed} changed a type, key, constraint or value (listed "
                 "above; with example rows in --report)" if changed else
                 "decisions: none changed a type, key, constraint or value")
    if decisions:
        for n in [*res.plan.warnings, *missing]:
            out += _wrap(f"  {n.kind or 'decision':<12} {n}")
    steps = r.steps()
    total = steps.pop("total")
    out += _wrap("seconds: " + " + ".join(f"{k} {v:.2f}" for k, v in steps.items())
                 + f" = {total:.2f}")
    out.append(f"started {r.started:%Y-%m-%d %H:%M:%S %Z}, ended {r.ended:%H:%M:%S %Z}".strip())
    if res.backup_schema:
        out += _wrap(f"the tables it replaced are kept in schema {res.backup_schema}; "
                     f"undo with: {r.rollback_command()}")
    return out


def _verified_total(r: RunReport) -> str:
    v = r.result.verified
    if v is None:
        return "-"
    equal = sum(1 for t in v.tables if t.equal)
    return f"{equal}/{len(v.tables)} equal"


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f}"


def _cut(name: str, width: int) -> str:
    return name if len(name) <= width else name[:width - 1] + "~"


def _wrap(line: str, width: int = 100) -> list[str]:
    """``line`` within ``width`` columns, its continuation lines indented; no word cut."""
    return textwrap.wrap(line, width, subsequent_indent="   ", break_long_words=False,
                         break_on_hyphens=False)


# -- the JSON report ------------------------------------------------------------------------
def to_json(r: RunReport) -> dict[str, Any]:
    """The report as the JSON of docs/report.schema.json."""
    res = r.result
    v = res.verified
    verdicts = {t.table: t for t in v.tables} if v is not None else {}
    tables = []
    for t in res.tables:
        plan_t = res.plan.table(t.table)
        verdict = verdicts.get(t.table)
        tables.append({
            "table": t.table, "pg_table": plan_t.pg_name, "rows": t.rows, "rows_read": t.read,
            "rejected": t.rejected, "bytes_sent": t.bytes,
            "bytes_in_target": res.sizes.get(t.table), "seconds": round(t.seconds, 3),
            "verified": verdict.status if verdict is not None else None,
            "source_rows": verdict.source_rows if verdict is not None else None,
            "target_rows": verdict.target_rows if verdict is not None else None,
            "differences": [asdict(d) for d in verdict.differences] if verdict else [],
            "error": verdict.error if verdict is not None else None})
    return {
        "format": REPORT_FORMAT,
        "version": __version__,
        "command": r.command,
        "run_id": res.run_id,
        "outcome": r.outcome,
        "started_at": r.started.isoformat(timespec="seconds"),
        "ended_at": r.ended.isoformat(timespec="seconds"),
        "seconds": r.steps(3),
        "source": {"path": str(r.source.resolve()), "bytes": res.plan.source.get("size")},
        "target": {"dsn": show(r.dsn), "schema": r.schema,
                   "backup_schema": res.backup_schema},
        "tables": tables,
        "totals": {"rows": sum(t.rows for t in res.tables), "rejected": r.rejected,
                   "bytes_sent": sum(t.bytes for t in res.tables),
                   "bytes_in_target": sum(r.sizes()) if r.sizes() else None},
        "objects": {"created": r.objects(),
                    "not_carried": [_note(n) for n in r.not_carried()]},
        "decisions": [_note(n) for n in res.decisions],
        "rejects_dir": str(r.rejects_dir) if r.rejected and r.rejects_dir else None,
        "rollback": r.rollback_command() if res.run_id else None,
    }


def _note(n: Note) -> dict[str, Any]:
    return {"table": n.table, "column": n.column, "kind": n.kind or "decision",
            "reason": n.message, "rows": n.rows}


def write(r: RunReport, path: Path) -> None:
    """The report in the format the file's name says: .md (Markdown), else JSON."""
    if path.suffix.lower() in (".md", ".markdown"):
        path.write_text(to_markdown(r), encoding="utf-8")
    else:
        path.write_text(json.dumps(to_json(r), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")


# -- the Markdown report --------------------------------------------------------------------
def to_markdown(r: RunReport) -> str:
    """The report for a change review: what moved where, what changed on the way, whether
    it was verified, how to undo it."""
    data = to_json(r)
    res = r.result
    out = [f"# sqlite2pg run {res.run_id or ''}: {r.outcome}".rstrip(), "",
           "| | |", "|---|---|",
           f"| source | `{_md(data['source']['path'])}` |",
           f"| target | `{_md(data['target']['dsn'])}`, schema `{_md(r.schema)}` |",
           f"| sqlite2pg | {__version__} |",
           f"| started | {data['started_at']} |",
           f"| ended | {data['ended_at']} ({r.total_seconds:.1f} s) |",
           f"| outcome | **{r.outcome}** |"]
    if r.command:
        out.append(f"| command | `{_md(shlex.join(r.command))}` |")
    out += ["", "## Tables", "",
            "| table | rows | rejected | MiB sent | MiB in PostgreSQL | seconds | verified |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for t in data["tables"]:
        out.append(f"| {_md(t['table'])} | {t['rows']:,} | {t['rejected']:,} | "
                   f"{t['bytes_sent'] / 2**20:,.1f} | {_mib(t['bytes_in_target'])} | "
                   f"{t['seconds']:.2f} | {t['verified'] or '-'} |")
    tot = data["totals"]
    out.append(f"| **total** | {tot['rows']:,} | {tot['rejected']:,} | "
               f"{tot['bytes_sent'] / 2**20:,.1f} | {_mib(tot['bytes_in_target'])} | "
               f"{r.copy_seconds:.2f} | {_verified_total(r)} |")
    out += ["", "Created: " + (", ".join(f"{n:,} {k}" for k, n in
                                        data["objects"]["created"].items())
                               or "nothing (the rows went into the application's tables)")
            + ".", ""]
    out += ["## Decisions", ""]
    out += _notes_table(data["decisions"]) or ["None changed a type, key, constraint or "
                                               "value.", ""]
    out += ["## Not carried over", ""]
    out += _notes_table(data["objects"]["not_carried"]) or ["Nothing.", ""]
    out += ["## Verification", ""]
    v = res.verified
    if v is None:
        out += ["Not verified in this run; `sqlite2pg verify` compares the source with the "
                "target.", ""]
    else:
        out += [f"{sum(1 for t in v.tables if t.equal)} of {len(v.tables)} tables equal "
                "(row counts and content checksums).", ""]
        for t in v.tables:
            if not t.equal:
                out.append(f"- {_md(t.table)}: {t.status}: {t.source_rows:,} rows in SQLite, "
                           f"{t.target_rows:,} in PostgreSQL" +
                           (f"; {_md(t.error)}" if t.error else ""))
                out += [f"  - {_md(str(d))}" for d in t.differences]
        if not v.equal:
            out.append("")
    if data["rejects_dir"]:
        out += [f"Rows set aside: {r.rejected:,}, in `{_md(data['rejects_dir'])}`.", ""]
    out += ["## Seconds", "", "| step | seconds |", "|---|---:|"]
    out += [f"| {k} | {s:.2f} |" for k, s in r.steps().items()]
    out += ["", "## Rolling back", ""]
    if data["rollback"]:
        undo = (f"the tables it replaced come back from schema `{res.backup_schema}`"
                if res.backup_schema else "there was nothing before it to restore")
        out += [f"`{_md(data['rollback'])}` moves this run's tables out of `{_md(r.schema)}` "
                f"(into a schema of their own) in one transaction; {undo}.", ""]
    return "\n".join(out)


def _notes_table(notes: list[dict[str, Any]]) -> list[str]:
    if not notes:
        return []
    out = ["| table | column | kind | what | example rows |", "|---|---|---|---|---|"]
    for n in notes:
        out.append(f"| {_md(n['table'])} | {_md(n['column'] or '')} | {n['kind']} | "
                   f"{_md(n['reason'])} | {_md(', '.join(n['rows']))} |")
    return [*out, ""]


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
