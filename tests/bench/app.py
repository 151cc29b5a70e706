"""The application `make bench` measures: the production app, plus the bench's twins and
floors (tests/bench/routes.py), mounted here and nowhere else."""

from __future__ import annotations

from litestar import Litestar

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.database import Database
from tests.bench.routes import BenchFloorController, BenchTwinController

BENCH_ROUTE_HANDLERS = (BenchTwinController, BenchFloorController)


def create_bench_app(
    settings: Settings | None = None, database: Database | None = None
) -> Litestar:
    """``create_app``'s app with the twins and floors registered on it (the same guard,
    dependencies and exception handlers as every route: they are the app's, not the route's)."""
    app = create_app(settings, database)
    for handler in BENCH_ROUTE_HANDLERS:
        app.register(handler)
    return app
