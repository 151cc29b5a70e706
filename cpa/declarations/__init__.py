"""Declarations in: yearly activity (employee hours and reference hours, independent months,
ESAT — CT L6323-11, R6323-1, R6323-22, L6323-33), C2P exposures per contract (CT R4163-8,
DSN), CEC engagements declared then validated by the organisation (CT L5151-9, D5151-14).

Batches are answered line by line, all-or-nothing per line. A new declaration for the same
person and year (or contract) is a correction: crediting uses the latest one and posts the
difference (OQ-5).
"""

from cpa.declarations.errors import (
    BatchTooLarge,
    DeclarationInFuture,
    EngagementAlreadyDecided,
    EngagementNotFound,
)
from cpa.declarations.models import (
    ActivityDeclaration,
    BatchResult,
    DeclaredActivity,
    EngagementDecision,
    EngagementDeclaration,
    ExposureDeclaration,
    LineResult,
)
from cpa.declarations.service import (
    BATCH_LINES_MAX,
    decide_engagements,
    declare_activities,
    declare_engagements,
    declare_exposures,
    split_batch,
)

__all__ = [
    "BATCH_LINES_MAX",
    "ActivityDeclaration",
    "BatchResult",
    "BatchTooLarge",
    "DeclarationInFuture",
    "DeclaredActivity",
    "EngagementAlreadyDecided",
    "EngagementDecision",
    "EngagementDeclaration",
    "EngagementNotFound",
    "ExposureDeclaration",
    "LineResult",
    "decide_engagements",
    "declare_activities",
    "declare_engagements",
    "declare_exposures",
    "split_batch",
]
