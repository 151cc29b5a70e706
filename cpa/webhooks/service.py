"""Subscriptions: a client's own, created with a signing secret shown once, listed, read and
deleted (with their pending deliveries)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.webhooks.crypto import SecretBox, check_secret, new_secret
from cpa.webhooks.errors import InvalidWebhook, WebhookLimitReached, WebhookNotFound
from cpa.webhooks.models import (
    EVENT_TYPES,
    SUBSCRIPTIONS_PER_CLIENT_MAX,
    CreatedSubscription,
    NewSubscription,
    Subscription,
)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Where plain http is accepted (a developer's receiver), as for OAuth redirect URIs."""


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "an absolute http(s) URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "https (plain http only on loopback)"
    if parts.fragment or parts.username or parts.password:
        return "no fragment and no credentials in the URL"
    return None


def check_subscription(new: NewSubscription) -> None:
    """Refuse, naming every field at fault, a URL that is not http(s) or an unknown type."""
    errors = []
    problem = _url_problem(new.url)
    if problem is not None:
        errors.append({"field": "url", "message": problem})
    unknown = sorted(set(new.events) - set(EVENT_TYPES))
    if unknown:
        errors.append({"field": "events", "message": f"unknown event types: {' '.join(unknown)}"})
    if len(set(new.events)) != len(new.events):
        errors.append({"field": "events", "message": "an event type is listed twice"})
    if errors:
        raise InvalidWebhook("; ".join(e["message"] for e in errors), errors=errors)


def _subscription(row: asyncpg.Record) -> Subscription:
    return from_row(Subscription, row, events=list(row["event_types"]))


async def create_subscription(
    db: Connection, box: SecretBox, client_id: str, new: NewSubscription, *, now: dt.datetime
) -> CreatedSubscription:
    """The client's new subscription, with its secret (given or generated) this once."""
    check_subscription(new)
    secret = check_secret(new.secret) if new.secret is not None else new_secret()
    subscription_id = uuid.uuid4()
    row = await db.fetchrow(
        sql("insert_webhook_subscription"), subscription_id, client_id, new.url,
        new.events, box.seal(subscription_id, secret), now, SUBSCRIPTIONS_PER_CLIENT_MAX,
    )  # fmt: skip
    if row is None:
        raise WebhookLimitReached(f"at most {SUBSCRIPTIONS_PER_CLIENT_MAX} subscriptions")
    fields: dict[str, Any] = {
        f: getattr(_subscription(row), f) for f in Subscription.__struct_fields__
    }
    return CreatedSubscription(**fields, secret=secret)


async def list_subscriptions(db: Connection, client_id: str) -> list[Subscription]:
    return [
        _subscription(row) for row in await db.fetch(sql("list_webhook_subscriptions"), client_id)
    ]


async def get_subscription(
    db: Connection, client_id: str, subscription_id: uuid.UUID
) -> Subscription:
    """One of the client's subscriptions (another client's is not found)."""
    row = await db.fetchrow(sql("get_webhook_subscription"), client_id, subscription_id)
    if row is None:
        raise WebhookNotFound()
    return _subscription(row)


async def delete_subscription(db: Connection, client_id: str, subscription_id: uuid.UUID) -> None:
    if await db.fetchrow(sql("delete_webhook_subscription"), client_id, subscription_id) is None:
        raise WebhookNotFound()
