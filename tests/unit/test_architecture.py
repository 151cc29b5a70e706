"""Architecture rules, checked by walking cpa/ with ast."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import cpa

ROOT = Path(cpa.__file__).parent
WEB_ALLOWED = ("api/", "auth/", "app.py", "demo/app.py", "demo/partner.py")  # demo: its page
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


# -- layers ---------------------------------------------------------------------------------

PROJECT = ROOT.parent
FUNCTION_LINES_MAX = 50
"""STYLE.md: short functions. From ``def`` to the last line, docstring included."""
LAZY_IMPORT_REASON = "# Imported here:"
"""The comment that must open the line above an import inside a function, saying why."""
ENTRY_POINTS = ("__main__.py", "cli/")
"""The only modules that may import inside a function (for start-up speed, pointing down)."""
DYNAMIC_IMPORTS = {"auth/__init__.py"}
"""cpa.auth's face resolves its exports on first use (PEP 562) to keep Litestar out of the
command line; the modules it names are in the contract's layers."""


def test_the_layer_contracts_hold() -> None:
    """[tool.importlinter] in pyproject.toml: every import points down (imports inside
    functions included), no web framework below the HTTP layer, the rules pure."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_every_module_of_auth_has_a_layer() -> None:
    """The layers contract lists auth module by module (core and web part in two layers)."""
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["id"] == "layers"]
    listed = {
        name.strip().removeprefix("auth.")
        for layer in layers["layers"]
        for name in re.split(r"[|:]", layer)
        if name.strip().startswith("auth.")
    }
    modules = {p.stem for p in (ROOT / "auth").glob("*.py")} - {"__init__"}
    assert listed == modules


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_function_is_longer_than_fifty_lines() -> None:
    offenders = [
        f"{name}:{function.lineno} {function.name} ({lines} lines)"
        for name, tree in _modules()
        for function in _functions(tree)
        if (lines := (function.end_lineno or function.lineno) - function.lineno + 1)
        > FUNCTION_LINES_MAX
    ]
    assert offenders == []


def _is_dynamic_import(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) in (
        "importlib.import_module",
        "import_module",
        "__import__",
    )


def test_imports_inside_functions_are_entry_points_lazy_imports() -> None:
    """An import inside a function to dodge a cycle is a cycle (STYLE.md). Only the entry
    points may import late, to start faster, with the reason on the line above; the layers
    contract checks those too point down. The dynamic imports of cpa.auth's face are the one
    other exception."""
    offenders = []
    for name, tree in _modules():
        lines = (ROOT / name).read_text().splitlines()
        for function in _functions(tree):
            for node in ast.walk(function):
                if _is_dynamic_import(node) and name not in DYNAMIC_IMPORTS:
                    offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                reasoned = lines[node.lineno - 2].strip().startswith(LAZY_IMPORT_REASON)
                if not (name.startswith(ENTRY_POINTS) and reasoned):
                    offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_the_face_of_auth_names_statically_every_module_it_resolves() -> None:
    """The layers contract reads the face's TYPE_CHECKING imports, not its dynamic ones."""
    face = ROOT / "auth" / "__init__.py"
    tree = ast.parse(face.read_text())
    resolved = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("cpa.auth.")
    }
    static = {
        f"{node.module}.{alias.name}" if node.module == "cpa.auth" else str(node.module)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cpa.")
        for alias in node.names
    }
    assert resolved
    assert resolved <= static, sorted(resolved - static)
