"""Architecture rules, checked by walking cpa/ with ast."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import cpa

ROOT = Path(cpa.__file__).parent
WEB_ALLOWED = ("api/", "auth/", "app.py")
SQL_STRING = re.compile(
    r"^\s*(select|insert|update|delete|create|alter|drop|with)\s+[\w*(]", re.IGNORECASE
)


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path)))
        for path in sorted(ROOT.rglob("*.py"))
    ]


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_litestar_only_in_the_web_layer() -> None:
    offenders = [
        name
        for name, tree in _modules()
        if not name.startswith(WEB_ALLOWED)
        and any(i.split(".")[0] == "litestar" for i in _imports(tree))
    ]
    assert offenders == []


WRITE_STATEMENT = re.compile(r"^\s*(insert into|update \w+ set|delete from)", re.IGNORECASE)


def _looks_like_sql(text: str) -> bool:
    query = SQL_STRING.match(text) and " from " in f" {text.lower()} "
    return bool(query or WRITE_STATEMENT.match(text))


def test_no_sql_strings_in_python() -> None:
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _looks_like_sql(node.value)
    ]
    assert offenders == []


def test_authlib_jose_is_never_imported() -> None:
    offenders = [
        name
        for name, tree in _modules()
        if any(i.startswith("authlib.jose") for i in _imports(tree))
    ]
    assert offenders == []
