"""Operating errors of declarations."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class ConcurrentDeclaration(Conflict, slug="concurrent-declaration"):
    """Another declaration for the same person and year was recorded at the same time."""


class DeclarationInFuture(InvalidInput, slug="declaration-in-future"):
    """A declaration cannot be made for a year in the future."""


class ImpossibleCareer(InvalidInput, slug="impossible-career"):
    """The line is dated before the person could work (before birth, or before the youngest
    age of CT L4153-1 and L5151-2)."""


class BatchUnreadable(InvalidInput, slug="malformed-body", status=400):
    """The body is not a batch of JSON lines."""


class BatchTooLarge(InvalidInput, slug="batch-too-large", status=413):
    """The batch has too many lines."""


class EngagementNotFound(NotFound, slug="engagement-not-found"):
    """No such CEC engagement."""


class EngagementAlreadyDecided(Conflict, slug="engagement-already-decided"):
    """This engagement was already validated or refused."""


register(
    {
        "activity_declarations_revision_key": ConcurrentDeclaration,
        "c2p_exposure_declarations_revision_key": ConcurrentDeclaration,
        "activity_declarations_year_range": InvalidInput,
        "c2p_exposure_declarations_year_range": InvalidInput,
        "cec_engagements_year_range": InvalidInput,
    }
)
