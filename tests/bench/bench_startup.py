"""Time from `python -m cpa serve` to a 200 on /health/ready: cold (empty data directory:
initdb, migrations, demo data) and warm (the same directory, database stopped cleanly)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.processes import cpa_env, free_port, start_server, wait_ready


def _once(env: dict[str, str], base_url: str, log: Path) -> float:
    started = time.monotonic()
    server = start_server(env, log)
    wait_ready(base_url)
    elapsed = time.monotonic() - started
    os.killpg(server.pid, signal.SIGINT)
    server.wait(30)
    return elapsed


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cpa-startup-"))
    os.chmod(data_dir, 0o755)
    port = free_port()
    env = cpa_env(data_dir=str(data_dir), port=str(port), pg_port=str(free_port()))
    base_url = f"http://127.0.0.1:{port}"
    try:
        cold = _once(env, base_url, data_dir / "serve.log")
        warm = sorted(_once(env, base_url, data_dir / "serve.log") for _ in range(3))[1]
        print(f"startup_cold_to_ready_s={cold:.2f}")
        print(f"startup_warm_to_ready_s={warm:.2f} (median of 3)")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
