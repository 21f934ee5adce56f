"""Stage 2, type mapping: the one loader of ``type_maps/``.

Rules are data (``type_maps/default.toml``); this module only reads them and finds the
first rule matching a declared type. What the data then allows is decided in
``transfer.plan`` from the profile.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from transfer import pgtypes
from transfer.errors import PlanError

KINDS = ("boolean", "integer", "real", "numeric", "text", "timestamp", "date", "json", "blob",
         "uuid", "time", "rails_time", "inet", "any")


@dataclass(frozen=True)
class Rule:
    match: str
    kind: str
    pg: str
    reason: str
    examples: tuple[str, ...] = ()
    source: str = "default"
    length: int | None = None  # the declared length it needs: char(32), a Django UUIDField
    checked_by: str | None = None  # a function a CHECK on the column calls: json_valid

    def matches(self, base: str, params: dict[str, int] | None = None,
                checks: tuple[str, ...] = ()) -> bool:
        if self.length is not None and (params or {}).get("n") != self.length:
            return False
        if self.checked_by is not None and self.checked_by not in checks:
            return False
        return re.fullmatch(self.match, base, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class Fallback:
    classes: tuple[str, ...]  # e.g. ("integer+real", "real"), or ("*",)
    pg: str
    reason: str

    def matches(self, found: str) -> bool:
        return "*" in self.classes or found in self.classes


@dataclass(frozen=True)
class TypeMap:
    rules: tuple[Rule, ...]
    fallbacks: tuple[Fallback, ...]

    def rule_for(self, declared: str, checks: tuple[str, ...] = ()
                 ) -> tuple[Rule, dict[str, int]]:
        """The first rule matching ``declared`` (and the functions ``checks`` of the column
        call) and the declared parameters (n, p, s)."""
        base, params = split_declared(declared)
        for rule in self.rules:
            if rule.matches(base, params, checks):
                return rule, params
        raise PlanError(f"no type-map rule matches the declared type {declared!r}; "
                        "add a catch-all rule (match = \".*\") to the type map.")

    def fallback_for(self, classes: list[str]) -> Fallback:
        found = "+".join(c for c in ("integer", "real", "text", "blob") if c in classes) or "none"
        for fb in self.fallbacks:
            if fb.matches(found):
                return fb
        raise PlanError(f"no fallback rule matches the storage classes {found}; "
                        "add a catch-all fallback (classes = \"*\") to the type map.")


_PARAMS = re.compile(r"\(\s*([+-]?\d+)\s*(?:,\s*([+-]?\d+)\s*)?\)")


def split_declared(declared: str) -> tuple[str, dict[str, int]]:
    """``"DECIMAL(10, 2)"`` -> ``("DECIMAL", {"n": 10, "p": 10, "s": 2})``."""
    m = _PARAMS.search(declared)
    params: dict[str, int] = {}
    base = declared
    if m:
        first = int(m.group(1))
        params = {"n": first, "p": first, "s": int(m.group(2) or 0)}
        base = declared[: m.start()] + declared[m.end() :]
    return " ".join(base.split()), params


def render_pg(template: str, params: dict[str, int]) -> str:
    """Fill {n}, {p}, {s}; a parameterised type without declared parameters loses them."""
    if "{" not in template:
        return template
    if not params:
        return re.sub(r"\(.*\)", "", template)
    return template.format(**params)


def preferred_type(template: str, params: dict[str, int]) -> str | None:
    """The rule's type for the declared parameters, canonical; None when they make no
    PostgreSQL type (VARCHAR(0), DECIMAL(2000,1)): the data then decides."""
    if not template:
        return None
    try:
        return pgtypes.canonical(render_pg(template, params))
    except PlanError:
        return None


def _parse(data: dict[str, Any], source: str) -> tuple[list[Rule], list[Fallback]]:
    rules = []
    for i, r in enumerate(data.get("rule", []), 1):
        try:
            rule = Rule(match=str(r["match"]), kind=str(r["kind"]), pg=str(r.get("pg", "")),
                        reason=str(r.get("reason", "")),
                        examples=tuple(str(e) for e in r.get("example", [])), source=source,
                        length=int(r["length"]) if "length" in r else None,
                        checked_by=str(r["checked_by"]).lower() if "checked_by" in r else None)
            re.compile(rule.match)
        except (KeyError, re.error) as e:
            raise PlanError(f"{source}: rule {i} is invalid ({e}); each rule needs 'match' "
                            "(a regular expression) and 'kind'.") from None
        if rule.kind not in KINDS:
            raise PlanError(f"{source}: rule {i} has unknown kind {rule.kind!r}; use one of "
                            f"{', '.join(KINDS)}.")
        if rule.pg:  # (a type is written into statements: checked by its grammar)
            pgtypes.parse(render_pg(rule.pg, {"n": 1, "p": 10, "s": 2}), f"{source}: rule {i}")
        rules.append(rule)
    fallbacks = []
    for i, f in enumerate(data.get("fallback", []), 1):
        try:
            fb = Fallback(classes=tuple(str(f["classes"]).split("|")), pg=str(f["pg"]),
                          reason=str(f.get("reason", "")))
        except KeyError as e:
            raise PlanError(f"{source}: fallback {i} is invalid (missing {e}); each fallback "
                            "needs 'classes' and 'pg'.") from None
        fb = Fallback(fb.classes, pgtypes.canonical(fb.pg, f"{source}: fallback {i}"), fb.reason)
        fallbacks.append(fb)
    return rules, fallbacks


def framework_rules(framework: str | None) -> list[Rule]:
    """The rules of ``type_maps/FRAMEWORK.toml``, when that framework has a map."""
    if framework is None:
        return []
    found = resources.files("transfer.type_maps").joinpath(f"{framework}.toml")
    if not found.is_file():
        return []
    return _parse(tomllib.loads(found.read_text("utf-8")), framework)[0]


def load_type_map(extra: Path | None = None, framework: str | None = None) -> TypeMap:
    """The default map, with the rules of the framework the file shows tried first, and
    those of ``extra`` (a user's file) before them."""
    text = resources.files("transfer.type_maps").joinpath("default.toml").read_text("utf-8")
    rules, fallbacks = _parse(tomllib.loads(text), "default")
    rules = framework_rules(framework) + rules
    if extra is not None:
        try:
            data = tomllib.loads(extra.read_text("utf-8"))
        except OSError as e:
            raise PlanError(f"cannot read type map {extra}: {e.strerror}; "
                            "check the path.") from None
        except tomllib.TOMLDecodeError as e:
            raise PlanError(f"type map {extra} is not valid TOML ({e}); fix the file.") from None
        user_rules, user_fallbacks = _parse(data, str(extra))
        rules = user_rules + rules
        fallbacks = user_fallbacks + fallbacks
    return TypeMap(tuple(rules), tuple(fallbacks))


README_BEGIN = "<!-- type map: generated from type_maps/default.toml by scripts/type_table -->"
README_END = "<!-- end of type map -->"


def markdown_table(type_map: TypeMap) -> str:
    """The rules and fallbacks as the README's tables (the README is tested against it)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| declared (examples) | PostgreSQL | when and why |", "|---|---|---|"]
    for r in type_map.rules:
        if r.source != "default":
            continue
        examples = ", ".join(f"`{e}`" if e else "untyped" for e in r.examples)
        pg = f"`{r.pg}`" if r.pg else "by the data (below)"
        lines.append(f"| {examples} | {cell(pg)} | {cell(r.reason)} |")
    lines += ["", "When the preferred type cannot hold every stored value, or the column is "
              "untyped, the storage classes found decide:", "",
              "| storage classes found | PostgreSQL | why |", "|---|---|---|"]
    for fb in type_map.fallbacks:
        classes = "anything else" if fb.classes == ("*",) else ", ".join(fb.classes)
        lines.append(f"| {cell(classes)} | `{fb.pg}` | {cell(fb.reason)} |")
    return "\n".join(lines)
