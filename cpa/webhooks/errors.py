"""Operating errors of webhook subscriptions."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class WebhookNotFound(NotFound, slug="webhook-not-found"):
    """No such webhook subscription for this client."""


class InvalidWebhook(InvalidInput, slug="invalid-webhook"):
    """The webhook subscription is not valid."""


class WebhookLimitReached(Conflict, slug="webhook-limit-reached"):
    """This client has as many webhook subscriptions as it may hold: delete one first."""


register(
    {
        "webhook_subscriptions_url_http": InvalidWebhook,
        "webhook_subscriptions_event_types_given": InvalidWebhook,
    }
)
