"""Webhooks: a client subscribes an endpoint to event types; each matching event of the
outbox (``cpa.events``) is POSTed to it signed per the Standard Webhooks specification
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), retried with exponential
backoff, in order per subject; an endpoint failing too long is disabled and says so.
``GET /v1/events`` replays the same event bodies (``EventView``): at-least-once delivery plus
replay, nothing lost. A training body receives its own dossiers' events, a portal those of
the persons who consented to it — both under the pairwise ``sub`` they know the person by.
"""

from cpa.webhooks.crypto import SecretBox
from cpa.webhooks.delivery import Deliverer, DeliveryPolicy, fan_out_events
from cpa.webhooks.errors import InvalidWebhook, WebhookLimitReached, WebhookNotFound
from cpa.webhooks.models import (
    EVENT_TYPES,
    CreatedSubscription,
    EventView,
    NewSubscription,
    Subscription,
    event_view,
)
from cpa.webhooks.service import (
    create_subscription,
    delete_subscription,
    get_subscription,
    list_subscriptions,
)

__all__ = [
    "EVENT_TYPES",
    "CreatedSubscription",
    "Deliverer",
    "DeliveryPolicy",
    "EventView",
    "InvalidWebhook",
    "NewSubscription",
    "SecretBox",
    "Subscription",
    "WebhookLimitReached",
    "WebhookNotFound",
    "create_subscription",
    "delete_subscription",
    "event_view",
    "fan_out_events",
    "get_subscription",
    "list_subscriptions",
]
