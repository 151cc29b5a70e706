"""Training purchases (Mon Compte Formation / EDOF, domain.md §5): the catalogue of training
actions and sessions each training body keeps, and the citizen's dossier on a session moved
through EDOF's states by the citizen, the body, the financer and the server (deadlines in
working days, CGU decision OQ-7), with the rights it reserves, debits or gives back through
the ledger only (CT L6323-7 co-payment, décret 2025-1156 debit order, the CGU's cancellation
policy by version), every step journaled and written to the events outbox.

Modules: ``machine`` (the transition table, as data), ``catalogue``, ``service`` (dossiers and
the server's deadlines), ``money`` (hold, settlement, explanation), ``models``, ``errors``.
"""

from cpa.trainings.catalogue import (
    close_action,
    create_action,
    create_session,
    get_action,
    list_own_actions,
    search_actions,
    update_action,
    update_session,
)
from cpa.trainings.errors import (
    ControlOpen,
    DossierNotFound,
    InvalidTrainingInput,
    SessionClosed,
    StartTooEarly,
    TooManyOpenRequests,
    TrainingActionNotFound,
    TrainingSessionNotFound,
    TransitionNotAllowed,
)
from cpa.trainings.machine import TRANSITIONS, Actor, State, allowed_actions, transition
from cpa.trainings.models import (
    ActionInput,
    DossierView,
    NewDossier,
    NewSession,
    NewTrainingAction,
    SessionPatch,
    TrainingAction,
    TrainingActionPatch,
    TrainingPage,
    TrainingSearch,
    TrainingSession,
)
from cpa.trainings.money import quote
from cpa.trainings.service import (
    DEADLINE_INTERVAL_S,
    Party,
    act,
    apply_deadlines,
    list_dossiers,
    load_for,
    request_dossier,
    sweep_deadlines,
    view,
)

__all__ = [
    "DEADLINE_INTERVAL_S",
    "TRANSITIONS",
    "ActionInput",
    "Actor",
    "ControlOpen",
    "DossierNotFound",
    "DossierView",
    "InvalidTrainingInput",
    "NewDossier",
    "NewSession",
    "NewTrainingAction",
    "Party",
    "SessionClosed",
    "SessionPatch",
    "StartTooEarly",
    "State",
    "TooManyOpenRequests",
    "TrainingAction",
    "TrainingActionNotFound",
    "TrainingActionPatch",
    "TrainingPage",
    "TrainingSearch",
    "TrainingSession",
    "TrainingSessionNotFound",
    "TransitionNotAllowed",
    "act",
    "allowed_actions",
    "apply_deadlines",
    "close_action",
    "create_action",
    "create_session",
    "get_action",
    "list_dossiers",
    "list_own_actions",
    "load_for",
    "quote",
    "request_dossier",
    "search_actions",
    "sweep_deadlines",
    "transition",
    "update_action",
    "update_session",
    "view",
]
