"""Fixtures of the integration tests that run the CLI or the server as a user would."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from cpa.db.admin import create_database, drop_database, with_database
from tests.conftest import RUN_ID


@pytest.fixture
async def empty_dsn(server_dsn: str) -> AsyncIterator[str]:
    """A database of the test's own with no table yet: the command under test migrates it."""
    name = f"cpa_test_empty_{RUN_ID}_{secrets.token_hex(4)}"
    await create_database(server_dsn, name)
    yield with_database(server_dsn, name)
    await drop_database(server_dsn, name)
