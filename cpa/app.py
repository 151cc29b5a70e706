"""create_app(): wiring only — routes, lifespan, exception handlers, OpenAPI, logging."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from granian.utils.proxies import wrap_asgi_with_proxy_headers
from litestar import Litestar
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from cpa.api.account import AccountController, AdvisorAccountController
from cpa.api.advisor import AdvisorController
from cpa.api.c2p import C2pController
from cpa.api.call import provide_call
from cpa.api.declarations import DeclarationController
from cpa.api.docs import docs_assets_router, docs_render_plugins
from cpa.api.documented import Contract, components
from cpa.api.dossiers import (
    AdvisorDossierController,
    BodyDossierController,
    FinancerDossierController,
    MyDossierController,
)
from cpa.api.events import EventController
from cpa.api.health import HealthController, LivenessShortcut
from cpa.api.holds import ClientHoldController, HoldController
from cpa.api.me import MeController
from cpa.api.problems import EXCEPTION_HANDLERS
from cpa.api.services import ServiceCatalogueController, ServiceLinkController
from cpa.api.simulations import SimulationController
from cpa.api.trainings import (
    AdvisorTrainingController,
    CatalogueController,
    TrainingSearchController,
)
from cpa.api.webhooks import WebhookController
from cpa.api.writes import provide_money_key
from cpa.auth import (
    AUTH_ROUTE_HANDLERS,
    AuthState,
    TokenGuardMiddleware,
    add_rate_limit_headers,
)
from cpa.auth.access_log import ReadAccessLog, journal_listener
from cpa.auth.expiry import PURGE_INTERVAL_S, purge_expired_auth_rows
from cpa.config import Settings, get_settings
from cpa.db.database import Database, PoolDatabase
from cpa.db.pool import create_pool
from cpa.idempotency import KEY_PURGE_INTERVAL_S, purge_idempotency_keys
from cpa.ledger import SWEEP_INTERVAL_S, sweep_lapsed_holds
from cpa.log import RequestLogMiddleware, configure_logging
from cpa.periodic import Periodic
from cpa.persons.nir import NirVault
from cpa.trainings import DEADLINE_INTERVAL_S, sweep_deadlines
from cpa.webhooks import Deliverer, DeliveryPolicy, SecretBox, fan_out_events

API_VERSION = "0.1.0"

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


def openapi_config() -> Contract:
    return Contract(
        title="cpa — Compte Personnel d'Activité API",
        version=API_VERSION,
        description=(
            "Training rights (CPF), hardship points (C2P) and citizen-engagement rights (CEC) "
            "of one person, behind one authenticated API (OAuth2: the `oauth2` security "
            "scheme; each operation lists the scopes it needs). Errors are RFC 9457 problems "
            "(`application/problem+json`), the OAuth endpoints' RFC 6749 error bodies. The "
            "simulation contract (`POST /v1/simulations`, `python -m cpa simulate`) is "
            "docs/simulation.md."
        ),
        components=components(),
        path="/docs",
        render_plugins=docs_render_plugins(),
        use_handler_docstrings=True,
    )


def _periodic_jobs(settings: Settings, webhook_secrets: SecretBox) -> list[Periodic]:
    """What each server process does on its own, every so often (see ``cpa.periodic``)."""
    deliver = Deliverer(webhook_secrets, DeliveryPolicy.from_settings(settings))
    webhook_poll_s = settings.webhook_poll_ms / 1000
    return [
        Periodic(sweep_lapsed_holds, event="holds_expired", interval_s=SWEEP_INTERVAL_S),
        Periodic(
            purge_idempotency_keys,
            event="idempotency_keys_purged",
            interval_s=KEY_PURGE_INTERVAL_S,
        ),
        Periodic(purge_expired_auth_rows, event="auth_rows_purged", interval_s=PURGE_INTERVAL_S),
        Periodic(
            sweep_deadlines, event="dossier_deadlines_applied", interval_s=DEADLINE_INTERVAL_S
        ),
        Periodic(fan_out_events, event="webhook_deliveries_queued", interval_s=webhook_poll_s),
        Periodic(deliver, event="webhook_deliveries_sent", interval_s=webhook_poll_s),
    ]


def _lifespan(settings: Settings, database: Database | None) -> Lifespan:
    """Opens the pool and starts the periodic jobs, unless the caller gave a database."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if database is not None:  # given by the caller, who also closes it
            yield
            return
        if not settings.database_url:
            raise RuntimeError("CPA_DATABASE_URL is not set: start with `python -m cpa serve`")
        app.state.db = PoolDatabase(
            await create_pool(settings.database_url, settings),
            acquire_timeout_s=settings.pool_acquire_timeout_ms / 1000,
        )
        listen = journal_listener(settings.database_url, settings.connect_timeout_ms / 1000)
        app.state.read_journal.start(app.state.db, listen=listen)
        jobs = _periodic_jobs(settings, app.state.webhook_secrets)
        for job in jobs:
            job.start(app.state.db)
        _settle_heap()
        try:
            yield
        finally:
            for job in jobs:
                await job.stop()
            await app.state.read_journal.stop(app.state.db)
            await app.state.db.close()

    return lifespan


def _settle_heap() -> None:
    """Move what start-up built (modules, routes, the app, the pool) out of the cyclic garbage
    collector's reach: its full collections otherwise walk those hundreds of thousands of
    objects again every few hundred requests (~8 % of a worker's CPU under holds, perf; issue
    16). Only the server's own lifespan does this: a caller's app in a test is left alone."""
    gc.collect()
    gc.freeze()


def _route_handlers() -> list[ControllerRouterHandler]:
    """In the order the OpenAPI document lists them."""
    return [
        HealthController,
        SimulationController,
        *AUTH_ROUTE_HANDLERS,
        MeController,
        AdvisorController,
        AccountController,
        AdvisorAccountController,
        HoldController,
        ClientHoldController,
        C2pController,
        ServiceCatalogueController,
        ServiceLinkController,
        DeclarationController,
        TrainingSearchController,
        AdvisorTrainingController,
        CatalogueController,
        MyDossierController,
        BodyDossierController,
        FinancerDossierController,
        AdvisorDossierController,
        EventController,
        WebhookController,
        docs_assets_router(),
    ]


def _set_state(app: Litestar, settings: Settings, database: Database | None) -> None:
    app.state.settings = settings
    if database is not None:
        app.state.db = database
    app.state.vault = NirVault.from_key_file(settings.nir_key_path)
    app.state.auth = AuthState(settings.issuer, settings.nir_key_path, app.state.vault)
    app.state.read_journal = ReadAccessLog()
    app.state.webhook_secrets = SecretBox.from_key_file(settings.nir_key_path)


def _wrap_asgi(app: Litestar, settings: Settings) -> None:
    # Outermost wrapper, so unmatched routes (404/405) are logged too.
    app.asgi_handler = RequestLogMiddleware(  # type: ignore[assignment]
        LivenessShortcut(app.asgi_handler)  # type: ignore[arg-type]
    )
    if settings.trusted_proxies:
        # Before everything else: the limits per address and the request log see the caller
        # the proxy names, and only when the proxy itself is the TCP peer.
        app.asgi_handler = wrap_asgi_with_proxy_headers(
            app.asgi_handler, trusted_hosts=settings.trusted_proxies
        )


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """The ASGI application. ``database`` is given by tests; otherwise a pool is opened."""
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    app = Litestar(
        route_handlers=_route_handlers(),
        lifespan=[_lifespan(settings, database)],
        # Every /v1 route is refused unless its token grants what the route declares.
        middleware=[TokenGuardMiddleware],  # type: ignore[list-item]  # cpa.types ASGI aliases
        dependencies={
            "call": Provide(provide_call, sync_to_thread=False),
            "key": Provide(provide_money_key, sync_to_thread=False),
        },
        before_send=[add_rate_limit_headers],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi_config(),
        request_max_body_size=settings.body_size_max_bytes,
        debug=False,
    )
    _set_state(app, settings, database)
    _wrap_asgi(app, settings)
    return app
