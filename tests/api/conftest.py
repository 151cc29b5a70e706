"""The ledger API tests' world: partners, two credited persons and their real tokens.

Getting a person token goes through the real login and consent form (argon2 included), so
the world is built once per run in a database of its own and committed; each test then runs
inside a transaction of the world's connection, rolled back afterwards, like ``db``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey
from litestar import Litestar

from cpa.app import create_app
from cpa.auth.clients import NewClient, register_client
from cpa.config import Settings
from cpa.db.admin import create_database, drop_database, with_database
from cpa.db.database import ConnectionDatabase
from cpa.db.pool import _init_connection
from cpa.declarations import ExposureDeclaration, declare_exposures
from cpa.ledger import credit_year
from cpa.linked_services import load_catalogue
from tests.auth import support
from tests.conftest import RUN_ID
from tests.ledger.support import declare_year
from tests.support.keys import KEYED_HOOKS

UNLIMITED_PER_MINUTE = 1_000_000
EVERY_PORTAL_SCOPE = (
    "account:read cpf:read cec:read c2p:read services:read services:write c2p:convert"
)
CREDITED_YEARS = range(2019, 2026)
TOKEN_URL = support.ISSUER + "/oauth/token"


@dataclass
class Citizen:
    id: UUID
    nir: str
    tokens: dict[str, str] = field(default_factory=dict)
    """Access tokens by name: ``portal`` (every portal scope), ``training`` (the training
    body: cpf:read cpf:hold); Alice's ``cpf`` (cpf:read only) and ``other_training`` (a
    second training body); Bob's ``convert`` (c2p:convert only, no reading scope)."""


@dataclass
class World:
    app: Litestar
    connection: asyncpg.Connection
    clients: dict[str, dict[str, Any]]
    alice: Citizen
    bob: Citizen
    machine: dict[str, str]
    """Client-credentials tokens: ``operator``, ``advisor``, ``training_body`` and
    ``other_training_body``."""

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


async def _citizen(db: asyncpg.Connection, app: Litestar, number13: str, night: bool) -> Citizen:
    who, nir = await support.person(db, app.state.vault, number13)
    for year in CREDITED_YEARS:
        await declare_year(db, who.id, year)
        await credit_year(db, who.id, year, today=dt.date(year + 1, 4, 15))
    if night:  # a night worker: C2P points for 2024
        exposure = ExposureDeclaration(
            person_id=who.id, year=2024, contract_ref="C-1", contract_start=dt.date(2020, 1, 1),
            contract_end=dt.date(2030, 12, 31), factors={"night_work": 150, "noise_daily": 700},
        )  # fmt: skip
        await declare_exposures(db, [exposure], today=dt.date(2025, 6, 1))
        await credit_year(db, who.id, 2024, today=dt.date(2025, 6, 1))
    return Citizen(id=who.id, nir=nir)


async def _code_flow(world: World, client: str, nir: str, scope: str, *narrower: str) -> list[str]:
    """The citizen logs in and consents on the real form; the partner exchanges the code,
    then refreshes with each narrower scope (RFC 6749 §6): one argon2 login, several tokens."""
    key = world.clients[client]["key"]
    verifier, _ = support.pkce()
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.app), base_url=support.ISSUER
        ) as http,
        support.oauth(
            world.app,
            {"client_id": world.clients[client]["client_id"], "client_secret": key},
            token_endpoint_auth_method=PrivateKeyJWT(TOKEN_URL, alg="ES256"),
            redirect_uri=support.REDIRECT_URI,
            scope=scope,
            code_challenge_method="S256",
        ) as oauth,
    ):
        url, _ = oauth.create_authorization_url(
            "/oauth/authorize", state="xyz", code_verifier=verifier
        )
        back = await support.login_and_consent(http, url, nir)
        token = await oauth.fetch_token(
            TOKEN_URL,
            authorization_response=back.headers["location"],
            code_verifier=verifier,
            state="xyz",
        )
        tokens = [str(token["access_token"])]
        for narrow in narrower:
            refreshed = await oauth.refresh_token(
                TOKEN_URL, refresh_token=token["refresh_token"], scope=narrow
            )
            assert refreshed["scope"] == narrow, refreshed
            tokens.append(str(refreshed["access_token"]))
    return tokens


async def _machine_token(world: World, client: str) -> str:
    key = world.clients[client]["key"]
    async with support.oauth(
        world.app,
        {"client_id": world.clients[client]["client_id"], "client_secret": key},
        token_endpoint_auth_method=PrivateKeyJWT(TOKEN_URL, alg="ES256"),
    ) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    return str(token["access_token"])


async def _client(db: asyncpg.Connection, kind: str) -> dict[str, Any]:
    """A partner authenticating with private_key_jwt (no argon2 secret to hash or verify)."""
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    redirect = [support.REDIRECT_URI] if kind in ("portal", "training_body") else []
    creds = await register_client(
        db,
        NewClient(
            name=f"{kind} ledger test",
            kind=kind,  # type: ignore[arg-type]
            redirect_uris=redirect,
            jwks={"keys": [key.as_dict(private=False)]},
            rate_limit_per_minute=UNLIMITED_PER_MINUTE,
        ),
    )
    return {**creds, "key": key}


@pytest.fixture(scope="session")
async def world_connection(
    server_dsn: str, template_name: str
) -> AsyncIterator[asyncpg.Connection]:
    name = f"cpa_test_api_{RUN_ID}_{secrets.token_hex(3)}"
    await create_database(server_dsn, name, template=template_name)
    connection = await asyncpg.connect(with_database(server_dsn, name))
    await _init_connection(connection)
    yield connection
    await connection.close()
    await drop_database(server_dsn, name)


@pytest.fixture(scope="session")
async def world(world_connection: asyncpg.Connection, settings: Settings) -> World:
    db = world_connection
    app = create_app(settings, database=ConnectionDatabase(db))
    clients = {
        kind: await _client(db, kind)
        for kind in ("portal", "training_body", "advisor_tool", "operator")
    }
    clients["other_training_body"] = await _client(db, "training_body")
    await load_catalogue(db)
    alice = await _citizen(db, app, "2850775123456", night=True)
    bob = await _citizen(db, app, "1900675654321", night=False)
    world = World(app=app, connection=db, clients=clients, alice=alice, bob=bob, machine={})
    alice.tokens["portal"], alice.tokens["cpf"] = await _code_flow(
        world, "portal", alice.nir, EVERY_PORTAL_SCOPE, "cpf:read"
    )
    bob.tokens["portal"], bob.tokens["convert"] = await _code_flow(
        world, "portal", bob.nir, EVERY_PORTAL_SCOPE, "c2p:convert"
    )
    for citizen in (alice, bob):
        (citizen.tokens["training"],) = await _code_flow(
            world, "training_body", citizen.nir, "cpf:read cpf:hold"
        )
    (alice.tokens["other_training"],) = await _code_flow(
        world, "other_training_body", alice.nir, "cpf:read cpf:hold"
    )
    world.machine = {
        "operator": await _machine_token(world, "operator"),
        "advisor": await _machine_token(world, "advisor_tool"),
        "training_body": await _machine_token(world, "training_body"),
        "other_training_body": await _machine_token(world, "other_training_body"),
    }
    return world


@pytest.fixture
async def wdb(world: World) -> AsyncIterator[asyncpg.Connection]:
    """The world's connection inside a transaction rolled back after the test."""
    transaction = world.connection.transaction()
    await transaction.start()
    try:
        yield world.connection
    finally:
        await transaction.rollback()


@pytest.fixture
async def api(world: World, wdb: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """The world's app in-process; a money-moving POST gets a fresh Idempotency-Key unless the
    test sets its own (``tests.support.keys``)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),
        base_url=support.ISSUER,
        event_hooks=KEYED_HOOKS,
    ) as http:
        yield http
