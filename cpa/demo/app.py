"""The application ``cpa serve`` runs in demo mode (without ``--no-demo``): the API, plus the
demo partner page (:mod:`cpa.demo.partner`), and ready only once the demo set is loaded.

Here rather than in ``cpa/app.py``: the demo is an entry point above the wiring, and nothing
below it may import it (``[tool.importlinter]``); the production app never carries the page.
"""

from __future__ import annotations

from litestar import Litestar

from cpa.api.health import READINESS_CHECKS, ReadinessCheck
from cpa.app import create_app
from cpa.config import Settings, get_settings
from cpa.db.database import Database
from cpa.demo import loading_marker
from cpa.demo.partner import DemoPartnerController


def demo_loaded_check(settings: Settings) -> ReadinessCheck:
    """Not ready while the loading marker is in the data directory (``cpa serve`` writes it
    before the workers start; the loader, or the watchdog reaping it, removes it)."""
    marker = loading_marker(settings)

    def check() -> str | None:
        return "the demo data set is still loading" if marker.exists() else None

    return check


def create_demo_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """``create_app``'s app with the demo partner page registered on it and the demo loader as
    a condition of readiness."""
    settings = settings or get_settings()
    app = create_app(settings, database)
    app.register(DemoPartnerController)
    app.state[READINESS_CHECKS] = [
        *app.state.get(READINESS_CHECKS, ()),
        demo_loaded_check(settings),
    ]
    return app
