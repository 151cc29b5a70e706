"""``/v1/webhooks``: a training body's or a portal's subscriptions to its events.

``POST`` subscribes an endpoint (``https``; plain ``http`` only on loopback) to known event
types, with a Standard Webhooks secret given or generated and shown once; ``GET`` shows each
subscription's health (``enabled``/``disabled``, consecutive failures, last error, last
delivery, deliveries pending); ``DELETE`` ends it. Same scope as the replay
(``events:read``): a subscription only pushes what the client may already read.
"""

from __future__ import annotations

import datetime as dt
from typing import cast
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.api.events import EVENTS_READER
from cpa.webhooks import (
    EVENT_TYPES,
    CreatedSubscription,
    InvalidWebhook,
    NewSubscription,
    SecretBox,
    Subscription,
    WebhookLimitReached,
    WebhookNotFound,
    create_subscription,
    delete_subscription,
    get_subscription,
    list_subscriptions,
)


class SubscriptionList(msgspec.Struct, kw_only=True):
    webhooks: list[Subscription]


def secret_box(call: Call) -> SecretBox:
    return cast("SecretBox", call.request.app.state.webhook_secrets)


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ("webhooks",)

    @post(
        "/",
        operation_id="createWebhook",
        summary="Subscribe an endpoint to event types; the signing secret is shown once",
        status_code=201,
        **doc(
            EVENTS_READER,
            InvalidWebhook,
            WebhookLimitReached,
            description="Event types: "
            + ", ".join(f"`{t}`" for t in EVENT_TYPES)
            + ". Each event is POSTed signed per Standard Webhooks (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`), retried with exponential backoff, in "
            "order per dossier; after repeated failures the subscription is `disabled`. A URL "
            "that is not http(s) or an unknown event type is a 422 `invalid-webhook` problem; "
            "too many subscriptions a 409 `webhook-limit-reached`.",
        ),
    )
    async def create(self, call: Caller, data: JSONBody[NewSubscription]) -> CreatedSubscription:
        data = await call.strictly(data)
        now = dt.datetime.now(dt.UTC)
        async with call.db.acquire() as db:
            return await create_subscription(
                db, secret_box(call), call.principal.client_id, data, now=now
            )

    @get(
        "/",
        operation_id="listWebhooks",
        summary="This client's subscriptions",
        **doc(EVENTS_READER),
    )
    async def list_all(self, call: Caller) -> SubscriptionList:
        async with call.db.acquire() as db:
            return SubscriptionList(webhooks=await list_subscriptions(db, call.principal.client_id))

    @get(
        "/{webhook_id:uuid}",
        operation_id="getWebhook",
        summary="One subscription and its health (enabled or disabled, failures, last error)",
        **doc(EVENTS_READER, WebhookNotFound),
    )
    async def read(self, call: Caller, webhook_id: FromPath[UUID]) -> Subscription:
        async with call.db.acquire() as db:
            return await get_subscription(db, call.principal.client_id, webhook_id)

    @delete(
        "/{webhook_id:uuid}",
        operation_id="deleteWebhook",
        summary="End a subscription: its pending deliveries are dropped",
        status_code=204,
        **doc(EVENTS_READER, WebhookNotFound),
    )
    async def remove(self, call: Caller, webhook_id: FromPath[UUID]) -> None:
        async with call.db.acquire() as db:
            await delete_subscription(db, call.principal.client_id, webhook_id)
