"""cpa.auth's face: every exported name resolves, importing it costs no web framework, and
auth's core never imports its web part."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cpa.auth


def test_every_exported_name_resolves() -> None:
    for name in cpa.auth.__all__:
        assert getattr(cpa.auth, name) is not None, name


def test_the_face_imports_no_web_framework() -> None:
    probe = "import sys, cpa.auth, cpa.cli.auth; print('litestar' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


WEB = {"browser", "endpoints", "guard", "metadata", "openapi", "pages", "responses"}
"""auth's web part (HTTP layer); the rest is auth's core (a domain), and cli, demo entry points."""
ENTRY_POINTS = {"cli", "demo"}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_of_auth_imports_neither_litestar_nor_its_web_part() -> None:
    package = Path(cpa.auth.__file__).parent
    core = [p for p in package.glob("*.py") if p.stem not in WEB | ENTRY_POINTS | {"__init__"}]
    assert len(core) >= 15
    for path in core:
        imported = _imports(path)
        upward = {
            name
            for name in imported
            if name.split(".")[0] == "litestar"
            or name.removeprefix("cpa.auth.") in WEB | ENTRY_POINTS
        }
        assert not upward, f"{path.name} imports {sorted(upward)}"
