"""What is kept only until it expires is forgotten afterwards, and nothing else: idempotency
keys past their 24 h (in batches), and the authorization server's codes, pushed requests,
client assertion ids and revocations past their expiry."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator

import pytest

from cpa.auth.expiry import purge_expired_auth_rows
from cpa.config import Settings
from cpa.db.database import PoolDatabase
from cpa.db.pool import create_pool
from cpa.db.queries import sql
from cpa.idempotency import purge_idempotency_keys
from cpa.idempotency import service as idempotency_service
from tests.auth import support
from tests.ledger.support import VAULT

NOW = dt.datetime.now(dt.UTC)
PAST = NOW - dt.timedelta(seconds=1)
FUTURE = NOW + dt.timedelta(minutes=5)


@pytest.fixture
async def database(fresh_dsn: str, settings: Settings) -> AsyncIterator[PoolDatabase]:
    database = PoolDatabase(await create_pool(fresh_dsn, settings))
    yield database
    await database.close()


async def test_idempotency_keys_are_forgotten_after_their_lifetime_only(
    database: PoolDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency_service, "PURGE_BATCH_MAX", 2)  # several batches
    async with database.acquire() as db:
        for index, expires_at in enumerate([PAST] * 5 + [FUTURE]):
            await db.execute(
                "insert into idempotency_keys values ($1, $2, '\\x00', '\\x00', $3, $4)",
                "client", f"key-{index}", expires_at - dt.timedelta(hours=24), expires_at,
            )  # fmt: skip
    assert await purge_idempotency_keys(database, NOW) == 5
    async with database.acquire() as db:
        assert await db.fetch("select key from idempotency_keys") == [("key-5",)]


async def test_expired_authorization_rows_are_forgotten_and_only_they(
    database: PoolDatabase,
) -> None:
    async with database.acquire() as db:
        who, _ = await support.person(db, VAULT, "1850775" + f"{secrets.randbelow(10**6):06d}")
        client = (await support.client(db, "portal"))["client_id"]
        consent = await db.fetchrow(
            sql("insert_consent"), who.id, client, ["account:read"], NOW + dt.timedelta(days=90),
            "password",
        )  # fmt: skip
        for expires_at in (PAST, FUTURE):
            await db.execute(
                sql("insert_authorization_code"), secrets.token_bytes(32), client, consent["id"],
                "https://partner.example/callback", ["account:read"], "challenge", NOW, expires_at,
            )  # fmt: skip
            await db.execute(
                sql("insert_pushed_request"), secrets.token_bytes(32), client, {}, expires_at
            )
            await db.execute(
                sql("insert_client_assertion_jti"), client, secrets.token_hex(8), expires_at
            )
            await db.execute(sql("insert_token_revocation"), secrets.token_hex(8), expires_at)
            await db.execute(sql("insert_consent_revocation"), consent["id"], expires_at)
            await db.execute(sql("use_login_ticket"), secrets.token_hex(8), expires_at)
    assert await purge_expired_auth_rows(database, NOW) == 6
    async with database.acquire() as db:
        tables = ("authorization_codes", "pushed_requests", "client_assertion_jtis")
        for table in (*tables, "used_login_tickets"):
            assert await db.fetchval(f"select count(*) from {table}") == 1, table
        assert await db.fetchval("select count(*) from revocations") == 2
        assert await db.fetchval("select min(expires_at) from revocations") == FUTURE
        assert await db.fetchval("select count(*) from consents") == 1  # a record: kept
