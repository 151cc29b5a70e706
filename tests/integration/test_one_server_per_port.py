"""One server per port: a second ``cpa serve`` on a port another one listens on is refused
(a problem, exit 2) instead of binding beside it — granian's own socket sets SO_REUSEPORT,
with which the kernel silently split the connections between the two servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import cpa_env, serving

pytestmark = pytest.mark.slow


def test_a_second_server_on_a_taken_port_is_refused(fresh_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    with serving(fresh_dsn, tmp_path / "first") as base_url:
        port = base_url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "cpa", "serve", "--no-demo"],
            capture_output=True, text=True, timeout=60, check=False,
            env=cpa_env(database_url=fresh_dsn, port=port, data_dir=str(tmp_path / "second")),
        )  # fmt: skip
        assert second.returncode == 2, second.stderr[-2000:]
        problem = json.loads(second.stderr.strip().splitlines()[-1])
        assert problem["type"] == "urn:cpa:problem:http-port-taken"
        answers = [httpx.get(f"{base_url}/health/ready", timeout=5).status_code for _ in range(20)]
        assert answers == [200] * 20  # the first one still serves every connection
