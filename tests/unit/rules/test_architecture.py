"""The rules and the simulation stay pure: no I/O library, no web, no database, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3] / "cpa"
PURE = [ROOT / "rules", ROOT / "simulation"]
FORBIDDEN_MODULES = {
    "asyncpg",
    "litestar",
    "structlog",
    "httpx",
    "requests",
    "socket",
    "os",
    "time",
    "subprocess",
    "random",
    "secrets",
    "sqlite3",
    "cpa.db",
    "cpa.api",
    "cpa.app",
    "cpa.auth",
}
CLOCK_CALLS = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("time", "time")}
CLOCK_CALLS |= {("datetime", "today"), ("dt", "now")}


def _files() -> list[Path]:
    return sorted(p for folder in PURE for p in folder.rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _clock_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            )
            if (owner_name, node.func.attr) in CLOCK_CALLS or node.func.attr in {"today", "utcnow"}:
                found.append(f"{owner_name}.{node.func.attr} line {node.lineno}")
    return found


def test_there_are_files_to_check() -> None:
    assert len(_files()) >= 8


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_import(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = {
        name
        for name in _imported(tree)
        for forbidden in FORBIDDEN_MODULES
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path}: imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert not _clock_calls(tree), f"{path}: reads the clock"
