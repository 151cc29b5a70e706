"""Training purchases (Mon Compte Formation / EDOF, domain.md §5): the catalogue of training
actions and sessions each training body keeps, and the citizen's dossier on a session moved
through EDOF's states by the citizen, the body, the financer and the server (deadlines in
working days, CGU decision OQ-7), with the rights it reserves, debits or gives back through
the ledger only (CT L6323-7 co-payment, décret 2025-1156 debit order, the CGU's cancellation
policy by version), every step journaled and written to the events outbox.

Modules: ``machine`` (the transition table, as data), ``catalogue``, ``service`` (dossiers and
the server's deadlines), ``money`` (hold, settlement, explanation), ``models``, ``errors``.
"""

# The face of the package is the faces of its modules, each name listed once (in its module).
from cpa.trainings import catalogue, errors, machine, models, money, service
from cpa.trainings.catalogue import *  # noqa: F403
from cpa.trainings.errors import *  # noqa: F403
from cpa.trainings.machine import *  # noqa: F403
from cpa.trainings.models import *  # noqa: F403
from cpa.trainings.money import *  # noqa: F403
from cpa.trainings.service import *  # noqa: F403

__all__ = [
    *catalogue.__all__,
    *errors.__all__,
    *machine.__all__,
    *models.__all__,
    *money.__all__,
    *service.__all__,
]
