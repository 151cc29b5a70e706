"""Operating errors of training purchases, and the constraints of their tables."""

from __future__ import annotations

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "ControlOpen",
    "DossierNotFound",
    "InvalidTrainingInput",
    "SessionClosed",
    "StartTooEarly",
    "TooManyOpenRequests",
    "TrainingActionNotFound",
    "TrainingSessionNotFound",
    "TransitionNotAllowed",
]


class TrainingActionNotFound(NotFound, slug="training-action-not-found"):
    """No such training action in this body's catalogue."""


class TrainingSessionNotFound(NotFound, slug="training-session-not-found"):
    """No such training session (or it is not this body's)."""


class SessionClosed(Conflict, slug="training-session-closed"):
    """The session or its training action is closed to new requests."""


class DossierNotFound(NotFound, slug="dossier-not-found"):
    """No such dossier for this caller."""


class TransitionNotAllowed(Conflict, slug="transition-not-allowed"):
    """This action is not allowed from the dossier's current state."""


class TooManyOpenRequests(Conflict, slug="too-many-open-requests"):
    """The citizen already has the most open requests allowed for this training action."""


class StartTooEarly(InvalidInput, slug="start-too-early"):
    """The training must start at least the required number of working days after the proposal."""


class ControlOpen(Conflict, slug="dossier-control-open"):
    """A control of the service done is already open on this dossier."""


class InvalidTrainingInput(InvalidInput, slug="invalid-training-input"):
    """A field of the training action, session or dossier is out of range."""


register(
    {
        "training_actions_title_length": InvalidTrainingInput,
        "training_actions_certification_code_form": InvalidTrainingInput,
        "training_actions_description_length": InvalidTrainingInput,
        "training_actions_duration_hours_range": InvalidTrainingInput,
        "training_actions_modality_known": InvalidTrainingInput,
        "training_actions_location_length": InvalidTrainingInput,
        "training_sessions_dates_ordered": InvalidTrainingInput,
        "training_sessions_price_cents_range": InvalidTrainingInput,
        "training_sessions_seats_range": InvalidTrainingInput,
        "dossiers_completion_basis_points_range": InvalidTrainingInput,
        "dossiers_price_cents_range": InvalidTrainingInput,
        "dossiers_dates_ordered": InvalidTrainingInput,
    }
)
