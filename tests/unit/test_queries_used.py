"""Every named query in sql/*.sql is used: its name appears as a string in some Python code of
cpa/ or tests/ (``sql("name")``, or a list of names a loop passes to ``sql``). A query no code
names is dead SQL that the prepare test would keep compiling for nobody."""

from __future__ import annotations

import ast
from pathlib import Path

from cpa.db.queries import load

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()


def _string_constants() -> set[str]:
    found: set[str] = set()
    for folder in ("cpa", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() == THIS:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            found.update(
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            )
    return found


def test_every_named_query_is_used() -> None:
    names = set(load())
    assert names, "no named query found"
    unused = sorted(names - _string_constants())
    assert unused == [], f"named queries no Python code uses: {unused}"
