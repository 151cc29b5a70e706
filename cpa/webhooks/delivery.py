"""Delivery: each server process runs two periodic jobs (wired in ``cpa.app``).

- :func:`fan_out_events` turns final outbox events, after its own cursor, into one delivery
  row per matching enabled subscription (``fan_out_webhook_events``: one statement, the
  cursor row locked with ``skip locked``, so two processes never fan out the same events).
- :class:`Deliverer` claims due deliveries (``for update skip locked``, then a lease: no two
  workers send one delivery at once), POSTs each signed per Standard Webhooks, and records
  the outcome: accepted (2xx), or retried after a growing wait; the subscription is disabled
  when one delivery failed ``failures_max`` times in a row with none accepted meanwhile. A
  subject's event is claimed only once its earlier events reached that subscription: in
  order per dossier.

The request that caused an event only wrote its outbox row: nothing here runs in it. At least
once: an endpoint may see an event again (same ``webhook-id``) if its answer was lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import structlog
from cryptography.exceptions import InvalidTag
from standardwebhooks import Webhook

from cpa.config import Settings
from cpa.db.database import Database
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.events import StoredEvent
from cpa.webhooks.crypto import SecretBox
from cpa.webhooks.models import event_view

log = structlog.get_logger(__name__)

FAN_OUT_BATCH_MAX = 500
"""Events one fan-out statement reads."""
FAN_OUT_ROUNDS_MAX = 20
"""Fan-out statements in one run (then the next run goes on)."""
DELIVERED_KEEP_DAYS = 7
"""How long an accepted delivery's row stays (then purged by the fan-out job)."""
PURGE_BATCH_MAX = 1_000
"""Accepted deliveries one fan-out run purges."""
CLAIM_BATCH_MAX = 32
"""Deliveries one round claims and sends at once."""
DELIVERY_ROUNDS_MAX = 20
"""Rounds in one run: a subject's next event is due as soon as the previous one landed."""
LEASE_MARGIN_S = 30.0
"""A claimed delivery is left alone for the attempt's timeout plus this; if its process died,
another claims it after that."""
ERROR_LENGTH_MAX = 200
USER_AGENT = "cpa-webhooks/1"


class DeliveryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    attempt_timeout_s: float
    backoff_first_s: float
    backoff_max_s: float
    failures_max: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            attempt_timeout_s=settings.webhook_attempt_timeout_ms / 1000,
            backoff_first_s=settings.webhook_backoff_first_ms / 1000,
            backoff_max_s=settings.webhook_backoff_max_ms / 1000,
            failures_max=settings.webhook_failures_max,
        )

    def backoff_s(self, attempts: int, draw: float) -> float:
        """The wait after the ``attempts``-th failed attempt: doubling from the first wait,
        capped, with "equal jitter" (``draw`` in [0, 1) picks between half and the whole):
        so each wait is at least the one before, and workers drift apart."""
        full = min(self.backoff_max_s, self.backoff_first_s * 2.0 ** min(attempts - 1, 62))
        return full / 2 + draw * full / 2


async def fan_out_events(database: Database, now: dt.datetime) -> int:
    """Deliveries made from the events final at ``now`` (how many this run made); accepted
    deliveries older than ``DELIVERED_KEEP_DAYS`` purged."""
    made = 0
    for _ in range(FAN_OUT_ROUNDS_MAX):
        async with database.acquire() as db:
            row = await db.fetchrow(sql("fan_out_webhook_events"), FAN_OUT_BATCH_MAX, now)
        assert row is not None, "the statement returns its counts"
        made += row["deliveries"]
        if row["events"] < FAN_OUT_BATCH_MAX:
            break
    kept_since = now - dt.timedelta(days=DELIVERED_KEEP_DAYS)
    async with database.acquire() as db:
        await db.execute(sql("purge_webhook_deliveries"), kept_since, PURGE_BATCH_MAX)
    return made


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: int
    attempts: int
    subscription_id: Any
    url: str
    body: bytes
    msg_id: str
    secret: str | None
    """None when it cannot be opened (the master key changed): the attempt fails."""


class Deliverer:
    """The delivery job: ``await deliverer(database, now)`` sends what is due."""

    def __init__(
        self, box: SecretBox, policy: DeliveryPolicy, clock: Callable[[], dt.datetime] = _now
    ) -> None:
        self._box = box
        self._policy = policy
        self._clock = clock

    async def __call__(self, database: Database, now: dt.datetime) -> int:
        """Rounds of claim, send, record until nothing is due: how many were accepted."""
        claimed = await self._claim(database)
        if not claimed:
            return 0  # the usual run: no HTTP client made (its TLS context costs milliseconds)
        delivered = 0
        timeout = httpx.Timeout(self._policy.attempt_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            for round_index in range(DELIVERY_ROUNDS_MAX):
                if round_index:  # never claim what this run will not send
                    claimed = await self._claim(database)
                    if not claimed:
                        break
                errors = await asyncio.gather(*(self._send(http, c) for c in claimed))
                delivered += await self._record(database, list(zip(claimed, errors, strict=True)))
        return delivered

    async def _claim(self, database: Database) -> list[Claimed]:
        now = self._clock()
        lease = now + dt.timedelta(seconds=self._policy.attempt_timeout_s + LEASE_MARGIN_S)
        async with database.acquire() as db:
            rows = await db.fetch(sql("claim_webhook_deliveries"), now, CLAIM_BATCH_MAX, lease)
        return [self._claimed(row) for row in rows]

    def _claimed(self, row: Any) -> Claimed:
        event = from_row(StoredEvent, row)
        try:
            secret: str | None = self._box.open(row["subscription_id"], row["secret_ciphertext"])
        except InvalidTag:
            secret = None
        return Claimed(
            delivery_id=row["delivery_id"],
            attempts=row["attempts"],
            subscription_id=row["subscription_id"],
            url=row["url"],
            body=msgspec.json.encode(event_view(event, bytes(row["pairwise_salt"]))),
            msg_id=f"evt_{event.cursor}",  # the same for every attempt: receivers deduplicate
            secret=secret,
        )

    async def _send(self, http: httpx.AsyncClient, claimed: Claimed) -> str | None:
        """One signed POST: None when the endpoint accepted it (2xx), else why not."""
        if claimed.secret is None:
            return "the signing secret cannot be read"
        sent_at = self._clock()
        payload = claimed.body.decode()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": claimed.msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(claimed.secret).sign(claimed.msg_id, sent_at, payload),
        }
        try:
            async with asyncio.timeout(self._policy.attempt_timeout_s):
                # Streamed and never read: an endpoint's answer is its status, not its body.
                async with http.stream(
                    "POST", claimed.url, content=claimed.body, headers=headers
                ) as response:
                    status = response.status_code
        except TimeoutError:
            return f"no answer within {self._policy.attempt_timeout_s:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            # Whatever a stranger's endpoint does is its failure, never the job's: a job
            # that raised would stop for good (``cpa.periodic`` catches database errors only).
            return type(error).__name__[:ERROR_LENGTH_MAX]
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _record(self, database: Database, outcomes: list[tuple[Claimed, str | None]]) -> int:
        delivered = 0
        async with database.acquire() as db:
            for claimed, error in outcomes:
                now = self._clock()
                if error is None:
                    await db.execute(sql("mark_webhook_delivered"), claimed.delivery_id, now)
                    delivered += 1
                    continue
                retry_at = now + dt.timedelta(
                    seconds=self._policy.backoff_s(claimed.attempts, random.random())
                )
                row = await db.fetchrow(
                    sql("mark_webhook_failed"), claimed.delivery_id, now, retry_at, error,
                    self._policy.failures_max,
                )  # fmt: skip
                _log_failure(claimed, error, row)
        return delivered


def _log_failure(claimed: Claimed, error: str, row: Any) -> None:
    fields = {"subscription_id": str(claimed.subscription_id), "attempts": claimed.attempts}
    log.info("webhook_attempt_failed", error=error, **fields)
    if row is not None and row["disabled_now"]:  # told once, when it happens
        log.warning("webhook_subscription_disabled", **fields)
