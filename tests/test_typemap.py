"""Table-driven test generated from type_maps/default.toml: every example declared type is
matched by the rule that lists it (first match wins), and unknown names never fail."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from transfer.typemap import load_type_map, split_declared

ROOT = Path(__file__).resolve().parent.parent
RULES = tomllib.loads((ROOT / "type_maps" / "default.toml").read_text())["rule"]
CASES = [(example, i) for i, rule in enumerate(RULES) for example in rule.get("example", [])]


@pytest.mark.parametrize(("declared", "rule_index"), CASES)
def test_example_matches_its_rule(declared: str, rule_index: int) -> None:
    rule, _params = load_type_map().rule_for(declared)
    expected = RULES[rule_index]
    assert (rule.match, rule.kind, rule.pg) == (expected["match"], expected["kind"],
                                                 expected.get("pg", ""))


def test_every_rule_has_an_example_and_a_reason() -> None:
    for rule in RULES:
        assert rule.get("example"), rule["match"]
        assert rule.get("reason"), rule["match"]


@pytest.mark.parametrize("declared", ["", "WHATEVER", "x(1,2,3)", "ünïcode", "INT PRIMARY"])
def test_unknown_names_never_fail(declared: str) -> None:
    load_type_map().rule_for(declared)


def test_parameters_are_split() -> None:
    assert split_declared("DECIMAL( 10 , 2 )") == ("DECIMAL", {"n": 10, "p": 10, "s": 2})
    assert split_declared("varchar(255)") == ("varchar", {"n": 255, "p": 255, "s": 0})
    assert split_declared("unsigned   big int") == ("unsigned big int", {})


def test_user_rules_come_first(tmp_path: Path) -> None:
    extra = tmp_path / "map.toml"
    extra.write_text('[[rule]]\nmatch = "DATETIME"\nkind = "text"\npg = "text"\n'
                     'reason = "keep as written"\n')
    rule, _ = load_type_map(extra).rule_for("DATETIME")
    assert rule.pg == "text" and rule.source == str(extra)


def test_readme_type_tables_are_generated_from_the_type_map() -> None:
    from transfer.typemap import README_BEGIN, README_END, markdown_table

    readme = (ROOT / "README.md").read_text()
    assert README_BEGIN in readme and README_END in readme
    section = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert section == markdown_table(load_type_map()), "run scripts/type_table"


def test_readme_target_table_is_generated_from_the_target_rules() -> None:
    from transfer import targetconv

    readme = (ROOT / "README.md").read_text()
    assert targetconv.README_BEGIN in readme, "run scripts/type_table"
    section = readme.split(targetconv.README_BEGIN, 1)[1].split(targetconv.README_END, 1)[0]
    assert section.strip() == targetconv.markdown_table(targetconv.load_rules())


@pytest.mark.parametrize("declared", sorted({d for d, _i in CASES} | {
    "", "FLOATING POINT", "DOUBLE PRECISION", "REAL", "FLOAT8", "CHARINT", "BLOBBY", "DECIMAL"}))
def test_affinity_is_sqlites(declared: str) -> None:
    """Column.affinity (the profile trusts REAL affinity to hold no integers) against what
    SQLite stores for 5, 5.0, '5' and 'x' in a column so declared."""
    import sqlite3

    from transfer.catalog import Column

    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE TABLE t (c {declared})")
    except sqlite3.OperationalError:  # not a bare type name (an example like DOUBLE-ISH)
        conn.execute(f'CREATE TABLE t (c "{declared}")')
    conn.execute("INSERT INTO t VALUES (5), (5.0), ('5'), (x'35')")
    stored = [r[0] for r in conn.execute("SELECT typeof(c) FROM t ORDER BY rowid")]
    by_affinity = {"INTEGER": ["integer", "integer", "integer", "blob"],
                   "NUMERIC": ["integer", "integer", "integer", "blob"],
                   "REAL": ["real", "real", "real", "blob"],
                   "TEXT": ["text", "text", "text", "blob"],
                   "BLOB": ["integer", "real", "text", "blob"]}
    assert stored == by_affinity[Column(declared, declared, False, None, 0, 0).affinity]
