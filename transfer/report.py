"""Stage 7, report: what people read (text) and what machines read (JSON)."""

from __future__ import annotations

from transfer import ddl
from transfer.model import Plan


def plan_text(plan: Plan) -> str:
    out = [f"sqlite2pg plan for {plan.source['path']} "
           f"({len(plan.tables)} tables, {sum(t.rows for t in plan.tables)} rows)", ""]
    for t in plan.tables:
        head = f"table {t.name}"
        if t.pg_name != t.name:
            head += f" -> {t.pg_name}"
        head += f"  ({t.rows} rows"
        if t.tenant_key:
            head += f", tenant key {t.tenant_key}"
        if t.tenant_order:
            head += f", copied in ({t.tenant_order}, rowid) order"
        out.append(head + ")")
        width = max((len(c.name) for c in t.columns), default=0)
        for c in t.columns:
            declared = c.declared or "(untyped)"
            flags = []
            if c.identity:
                flags.append("identity")
            if c.name in t.pk or c.pg_name in t.pk:
                flags.append("pk")
            if not c.nullable and not c.identity:
                flags.append("not null")
            if c.default is not None:
                flags.append(f"default {c.default}")
            tail = f"  [{', '.join(flags)}]" if flags else ""
            why = c.decision or c.reason
            out.append(f"  {c.name:<{width}}  {declared:<16} -> {c.pg_type:<18}{tail}")
            out.append(f"  {'':<{width}}    {why}")
        out.append("")
    sections = [("BLOCKERS (run would fail on these)", plan.blockers),
                ("WARNINGS (what changes on the way)", plan.warnings),
                ("NOT CARRIED OVER", plan.not_carried)]
    for title, notes in sections:
        if notes:
            out.append(f"{title}: {len(notes)}")
            out += [f"  - {n}" for n in notes]
            out.append("")
    out.append("DDL")
    out.append(ddl.script(plan))
    verdict = (f"{len(plan.blockers)} blocker(s): fix them before 'sqlite2pg run'."
               if plan.blockers else "No blockers: 'sqlite2pg run' can execute this plan.")
    out.append(verdict)
    return "\n".join(out)
