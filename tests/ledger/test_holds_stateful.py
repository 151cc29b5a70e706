"""Holds, posts, voids, expiry and sweeps against an in-memory model (hypothesis, stateful)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from cpa.errors import CpaError
from cpa.ledger import (
    AmountBeyondHeld,
    HoldExpired,
    HoldNotPending,
    InsufficientRights,
    NewGrant,
    NewHold,
    add_grant,
    create_hold,
    expire_holds,
    get_account,
    post_hold,
    verify_ledger,
    void_hold,
)
from tests.ledger.support import NOW, TODAY, new_person

T = TypeVar("T")
FUNDS = {"dotation": 30_000, "abondement": 20_000}


class ModelHold:
    def __init__(self, amount: int, expires_at: dt.datetime) -> None:
        self.amount = amount
        self.expires_at = expires_at
        self.status = "pending"


class HoldsMachine(RuleBasedStateMachine):
    dsn = ""
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db: asyncpg.Connection = self.run(asyncpg.connect(self.dsn))
        self.person_id: UUID = self.run(new_person(self.db)).id
        for pot, cents in FUNDS.items():
            grant = NewGrant(pot=pot, amount_cents=cents, financer="F")  # type: ignore[arg-type]
            self.run(add_grant(self.db, self.person_id, grant, today=TODAY))
        self.now = NOW
        self.model: dict[UUID, ModelHold] = {}
        self.total = sum(FUNDS.values())  # rights not yet posted

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        self.run(self.db.close())
        self.loop.close()

    def live(self) -> list[ModelHold]:
        return [h for h in self.model.values() if h.status == "pending" and h.expires_at > self.now]

    def available(self) -> int:
        return self.total - sum(h.amount for h in self.live())

    @rule(target=holds, amount=st.integers(1, 60_000), ttl_hours=st.integers(1, 48))
    def create(self, amount: int, ttl_hours: int) -> UUID | None:
        expires_at = self.now + dt.timedelta(hours=ttl_hours)
        new = NewHold(amount_cents=amount, training_reference="T", expires_at=expires_at)
        try:
            hold = self.run(create_hold(self.db, self.person_id, new, now=self.now))
        except InsufficientRights:
            assert amount > self.available()
            return None
        assert amount <= self.available()
        for lapsed in self.model.values():  # the create may have released lapsed holds
            if lapsed.status == "pending" and lapsed.expires_at <= self.now:
                lapsed.status = "lapsed"
        self.model[hold.id] = ModelHold(amount, expires_at)
        return hold.id

    def _close(self, hold_id: UUID | None, work: Any, amount: int | None) -> None:
        if hold_id is None:
            return
        model = self.model[hold_id]
        try:
            self.run(work)
        except (HoldNotPending, HoldExpired):
            assert model.status != "pending" or model.expires_at <= self.now
            if model.status == "pending":
                model.status = "lapsed"
            return
        except AmountBeyondHeld:
            assert amount is not None and amount > model.amount
            return
        assert model.status == "pending" and model.expires_at > self.now
        assert amount is None or amount <= model.amount
        model.status = "posted" if amount is not None else "voided"
        self.total -= amount or 0

    @rule(hold_id=holds, amount=st.integers(1, 70_000))
    def post(self, hold_id: UUID | None, amount: int) -> None:
        work = (
            post_hold(self.db, self.person_id, hold_id, amount, now=self.now) if hold_id else None
        )
        self._close(hold_id, work, amount)

    @rule(hold_id=holds)
    def void(self, hold_id: UUID | None) -> None:
        work = void_hold(self.db, self.person_id, hold_id, now=self.now) if hold_id else None
        self._close(hold_id, work, None)

    @rule(hours=st.integers(0, 30))
    def advance(self, hours: int) -> None:
        self.now += dt.timedelta(hours=hours)

    @rule()
    def sweep(self) -> None:
        self.run(expire_holds(self.db, self.now))
        for hold in self.model.values():
            if hold.status == "pending" and hold.expires_at <= self.now:
                hold.status = "lapsed"

    @invariant()
    def balances_match_the_model(self) -> None:
        account = self.run(get_account(self.db, self.person_id, ["cpf:read"], now=self.now))
        assert account.cpf is not None
        assert account.cpf.available_cents == self.available()
        assert account.cpf.held_cents == sum(h.amount for h in self.live())
        assert self.run(verify_ledger(self.db)).ok


@pytest.mark.slow
async def test_holds_follow_the_model(fresh_dsn: str) -> None:
    HoldsMachine.dsn = fresh_dsn
    config = settings(
        max_examples=25,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    await asyncio.to_thread(run_state_machine_as_test, HoldsMachine, settings=config)


def test_cpa_errors_are_the_refusals() -> None:
    assert all(issubclass(e, CpaError) for e in (HoldNotPending, HoldExpired, AmountBeyondHeld))
