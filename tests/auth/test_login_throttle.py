"""Login throttling (issue 10, defect 6): each rule of :class:`LoginThrottle` on its own,
through the login form of the app, from the addresses an ASGI client can claim."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from contextlib import AsyncExitStack
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from cpa.auth.ratelimit import LoginThrottle
from cpa.auth.settings import AuthSettings
from tests.auth import support

CITIZEN_HOME = ("192.0.2.10", 50000)
VERIFICATIONS_UNBOUNDED = 100_000
"""For the tests of the other rules: the per-second argon2 budget is tested on its own."""


@pytest.fixture
def settings_of(app: Litestar) -> AuthSettings:
    """The app's throttle with its settings, the verification budget lifted."""
    settings: AuthSettings = msgspec.structs.replace(
        app.state.auth.settings, login_verifications_per_second=VERIFICATIONS_UNBOUNDED
    )
    app.state.auth.login_throttle = LoginThrottle(settings)
    return settings


def _attacker(index: int) -> tuple[str, int]:
    return (f"203.0.113.{index}", 40000 + index)


def _some_nir(index: int) -> str:
    return support.nir(f"2900175{index:06d}")


async def test_the_citizen_logs_in_from_their_address_while_their_nir_is_under_attack(
    app: Litestar,
    settings_of: AuthSettings,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """Past the per-NIR bound, addresses that failed are refused even with the right
    password; the citizen's own address (one typo allowed) still gets in."""
    nir_value, s = citizen[1], settings_of
    per_address = s.login_failures_per_nir_address
    attackers = -(-s.login_failures_per_nir // per_address)  # enough to pass the NIR's bound
    for index in range(attackers):
        for _ in range(per_address):
            answer = await support.try_login(app, _attacker(index), portal["client_id"],
                                             nir_value, "guess")  # fmt: skip
            assert answer.status_code == 401
    locked = await support.try_login(
        app, _attacker(0), portal["client_id"], nir_value, support.PASSWORD
    )
    assert locked.status_code == 429 and locked.headers["retry-after"]
    # An attacker address below the pair bound but not fresh: refused on the locked NIR.
    last = _attacker(attackers)
    for _ in range(s.login_failures_fresh_address_max):
        await support.try_login(app, last, portal["client_id"], nir_value, "guess")
    refused = await support.try_login(app, last, portal["client_id"], nir_value, "guess")
    assert refused.status_code == 429
    typo = await support.try_login(app, CITIZEN_HOME, portal["client_id"], nir_value, "typo")
    assert typo.status_code == 401
    home = await support.try_login(
        app, CITIZEN_HOME, portal["client_id"], nir_value, support.PASSWORD
    )
    assert home.status_code == 200 and 'name="ticket"' in home.text


async def test_guessing_one_nir_from_one_address_is_throttled_there_only(
    app: Litestar,
    settings_of: AuthSettings,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    nir_value = citizen[1]
    for _ in range(settings_of.login_failures_per_nir_address):
        answer = await support.try_login(app, _attacker(1), portal["client_id"], nir_value, "x")
        assert answer.status_code == 401
    again = await support.try_login(
        app, _attacker(1), portal["client_id"], nir_value, support.PASSWORD
    )
    assert again.status_code == 429 and "Trop d" in again.text
    other = await support.try_login(
        app, _attacker(2), portal["client_id"], nir_value, support.PASSWORD
    )
    assert other.status_code == 200


async def test_spraying_fifty_nirs_from_one_address_is_throttled(
    app: Litestar, settings_of: AuthSettings, portal: dict[str, Any]
) -> None:
    statuses = [
        (
            await support.try_login(app, _attacker(3), portal["client_id"], _some_nir(i), "x")
        ).status_code
        for i in range(50)
    ]
    allowed = settings_of.login_failures_per_address
    assert statuses == [401] * allowed + [429] * (50 - allowed)
    elsewhere = await support.try_login(app, _attacker(4), portal["client_id"], _some_nir(0), "x")
    assert elsewhere.status_code == 401


async def test_successes_do_not_count(
    app: Litestar,
    settings_of: AuthSettings,
    portal: dict[str, Any],
    citizen: tuple[Any, str],
) -> None:
    """Logging in many times is never throttled, and a success forgets the pair's failures."""
    nir_value, client_id = citizen[1], portal["client_id"]
    for _ in range(settings_of.login_failures_per_nir_address * 5):
        ok = await support.try_login(app, CITIZEN_HOME, client_id, nir_value, support.PASSWORD)
        assert ok.status_code == 200
    for _ in range(2):
        for _ in range(settings_of.login_failures_per_nir_address - 1):
            bad = await support.try_login(app, CITIZEN_HOME, client_id, nir_value, "typo")
            assert bad.status_code == 401
        ok = await support.try_login(app, CITIZEN_HOME, client_id, nir_value, support.PASSWORD)
        assert ok.status_code == 200


async def test_password_checks_per_second_are_bounded_before_hashing(
    app: Litestar, portal: dict[str, Any]
) -> None:
    """A burst from many addresses on many NIRs gets the per-second budget of argon2 checks
    (each ~20 ms); the rest are refused with ``Retry-After: 1`` before any query or hash."""
    budget = app.state.auth.settings.login_verifications_per_second
    attempts = budget * 3
    async with AsyncExitStack() as stack:
        ready = []
        for index in range(attempts):
            http = await stack.enter_async_context(
                support.from_address(app, _attacker(100 + index))
            )
            fields = await support.login_page_fields(http, portal["client_id"])
            ready.append((http, {**fields, "nir": _some_nir(index), "password": "x"}))
        started = time.monotonic()
        answers = await asyncio.gather(
            *(http.post("/oauth/authorize", data=data) for http, data in ready)
        )
        elapsed_s = time.monotonic() - started
    checked = [a for a in answers if a.status_code == 401]
    refused = [a for a in answers if a.status_code == 429]
    assert len(checked) + len(refused) == attempts
    assert budget <= len(checked) <= budget * (1 + int(elapsed_s))
    assert refused and all(a.headers["retry-after"] == "1" for a in refused)


def test_the_verification_budget_refills_each_second() -> None:
    throttle = LoginThrottle(AuthSettings(login_verifications_per_second=3))
    decisions = [throttle.refusal(f"nir-{i}", f"10.0.0.{i}", now=100.0) for i in range(4)]
    assert decisions == [None, None, None, 1]
    assert throttle.refusal("nir-9", "10.0.0.9", now=101.0) is None


@pytest.mark.slow
def test_the_failure_maps_stay_bounded_after_100000_distinct_keys() -> None:
    """A flood of distinct NIRs and addresses: entries capped at ``login_keys_max`` a map, the
    memory they hold with them (measured with tracemalloc)."""
    settings = AuthSettings()
    throttle = LoginThrottle(settings)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for index in range(100_000):
            throttle.failed(f"{index:064x}", f"10.{index >> 16}.{index >> 8 & 255}.{index & 255}",
                            now=float(index) / 1000)  # fmt: skip
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(throttle.by_address) == len(throttle.by_pair) == len(throttle.by_nir)
    assert throttle.entries() == 3 * settings.login_keys_max
    assert after - before < 16 * 2**20, f"{(after - before) / 2**20:.1f} MiB"
