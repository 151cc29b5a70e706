"""A client generated from the committed spec type-checks: what an integrator who starts from
``openapi/openapi.json`` alone gets. Run by ``make client-check`` (in CI after the fuzzing), not
by ``make test``: generating and type-checking ~240 modules takes 15-30 s on two cores."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"

GENERATOR_TIMEOUT_S = 60
CLIENT_PACKAGE = "cpa_client"


def _generator_config(spec: dict[str, Any]) -> str:
    """openapi-python-client's configuration: no post hooks (no ruff run on the output), and a
    class name of its own for every schema named like one of its properties (``Dossiers``
    with ``dossiers``): the generator's ``from_dict`` names a local variable after both and
    the result does not type-check (a generator defect, not the spec's)."""
    lines = [
        f"project_name_override: {CLIENT_PACKAGE}",
        f"package_name_override: {CLIENT_PACKAGE}",
        "post_hooks: []",
        "class_overrides:",
    ]
    for name, schema in sorted(spec["components"]["schemas"].items()):
        if name.lower() in schema.get("properties", {}):
            lines += [
                f"  {name}:",
                f"    class_name: {name}Page",
                f"    module_name: {name.lower()}_page",
            ]
    return "\n".join(lines) + "\n"


def test_a_generated_client_type_checks(tmp_path: Path) -> None:
    """openapi-python-client reads the committed spec without a warning (nothing skipped) and
    writes a client that mypy --strict accepts."""
    bin_dir = Path(sys.executable).parent
    spec = msgspec.json.decode(SPEC.read_bytes())
    config = tmp_path / "config.yaml"
    config.write_text(_generator_config(spec))
    generated = subprocess.run(
        [bin_dir / "openapi-python-client", "generate", "--path", SPEC, "--config", config,
         "--meta", "none", "--output-path", tmp_path / CLIENT_PACKAGE],
        capture_output=True, text=True, timeout=GENERATOR_TIMEOUT_S, cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout + generated.stderr, generated.stdout
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--ignore-missing-imports", CLIENT_PACKAGE],
        capture_output=True, text=True, timeout=GENERATOR_TIMEOUT_S, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-3000:]
