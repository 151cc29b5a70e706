from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from cpa.app import create_app
from cpa.config import Settings
from cpa.db.database import ConnectionDatabase
from cpa.persons import NirVault
from tests.auth import support


@pytest.fixture
def app(db: asyncpg.Connection, settings: Settings) -> Litestar:
    return create_app(settings, database=ConnectionDatabase(db))


@pytest.fixture
def vault(app: Litestar) -> NirVault:
    v: NirVault = app.state.vault
    return v


@pytest.fixture
async def http(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=support.ISSUER
    ) as client:
        yield client


@pytest.fixture
async def portal(db: asyncpg.Connection) -> dict[str, Any]:
    return await support.client(db, "portal")


@pytest.fixture
async def citizen(db: asyncpg.Connection, vault: NirVault) -> tuple[Any, str]:
    return await support.person(db, vault)
