"""``python -m tests.bench.serve`` (from the checkout): the server `make bench` measures.

``python -m cpa serve``'s HTTP server (cpa.server, same settings, same workers) running the
bench's app factory, on the database the harness has created and migrated (CPA_DATABASE_URL):
no embedded PostgreSQL, watchdog or demo data of its own.
"""

from __future__ import annotations

import signal
import sys

from cpa.config import get_settings
from cpa.log import configure_logging
from cpa.persons import NirVault
from cpa.server import build_server

BENCH_APP_FACTORY = "tests.bench.app:create_bench_app"


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_format, stream=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not settings.database_url:
        sys.exit("CPA_DATABASE_URL is not set: the bench harness (tests/bench/run.py) gives it")
    # Create the NIR key once, before the workers all read it (as `cpa serve` does).
    NirVault.from_key_file(settings.nir_key_path)
    build_server(settings, BENCH_APP_FACTORY).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
