"""Operating errors of declarations."""

from __future__ import annotations

from cpa.errors import Conflict, InvalidInput, NotFound


class DeclarationInFuture(InvalidInput):
    """A declaration cannot be made for a year in the future."""

    slug = "declaration-in-future"


class BatchTooLarge(InvalidInput):
    """The batch has too many lines."""

    slug = "batch-too-large"
    status = 413


class EngagementNotFound(NotFound):
    """No such CEC engagement."""

    slug = "engagement-not-found"


class EngagementAlreadyDecided(Conflict):
    """This engagement was already validated or refused."""

    slug = "engagement-already-decided"
