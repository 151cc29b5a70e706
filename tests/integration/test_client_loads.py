"""A client row is loaded once per id at a time, and every request waiting for that load gets
an answer — the row, or the load's error — even when the database fails (issue 10, defect 2:
waiters of a failed load overwrote one another's events and some waited forever)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from cpa.auth.server import given
from cpa.auth.state import AuthState
from cpa.db.database import Connection
from cpa.persons import NirVault

WAITERS = 8
ANSWER_S = 1.0


def _state(tmp_path: Path) -> AuthState:
    key = tmp_path / "nir.key"
    return AuthState("http://127.0.0.1:8000", key, NirVault.from_key_file(key))


async def test_waiters_of_a_failed_load_get_its_error(
    tmp_path: Path, db: asyncpg.Connection
) -> None:
    state = _state(tmp_path)
    calls = 0

    async def down() -> Connection:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # the others arrive while this one connects
        raise ConnectionRefusedError("the database is down")

    loads = [asyncio.create_task(state.load_client(down, "partner")) for _ in range(WAITERS)]
    results = await asyncio.wait_for(asyncio.gather(*loads, return_exceptions=True), ANSWER_S)
    assert all(isinstance(r, ConnectionRefusedError) for r in results), results
    assert calls == 1, "one load for every waiter"
    assert not state._clients_loading
    # The database back: the next request loads the row (unknown here: None, cached).
    assert await state.load_client(given(db), "partner") is None
    assert state.cached_client("partner") is None


async def test_waiters_of_a_cancelled_load_load_themselves(
    tmp_path: Path, db: asyncpg.Connection
) -> None:
    state = _state(tmp_path)
    stuck = asyncio.Event()

    async def never() -> Connection:
        await stuck.wait()
        raise AssertionError("unreachable")

    first = asyncio.create_task(state.load_client(never, "partner"))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(state.load_client(given(db), "partner")) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()  # its request went away
    assert await asyncio.wait_for(asyncio.gather(*waiters), ANSWER_S) == [None, None, None]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not state._clients_loading
