"""Operating errors of declarations."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class ConcurrentDeclaration(Conflict):
    """Another declaration for the same person and year was recorded at the same time."""

    slug = "concurrent-declaration"


class DeclarationInFuture(InvalidInput):
    """A declaration cannot be made for a year in the future."""

    slug = "declaration-in-future"


class BatchUnreadable(InvalidInput):
    """The body is not a batch of JSON lines."""

    slug = "malformed-body"
    status = 400


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


register(
    {
        "activity_declarations_revision_key": ConcurrentDeclaration,
        "c2p_exposure_declarations_revision_key": ConcurrentDeclaration,
        "activity_declarations_year_range": InvalidInput,
        "c2p_exposure_declarations_year_range": InvalidInput,
        "cec_engagements_year_range": InvalidInput,
    }
)
