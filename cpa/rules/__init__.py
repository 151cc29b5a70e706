"""Rules: the pure regulation of the CPA accounts — dated parameters and the functions using them.

Owns the law, nothing else: no I/O except reading the packaged TOML parameter files once at import,
no clock (dates are passed in), no database, no web framework. The ledger's yearly campaign, the
simulation and the purchase flow all call these same functions (one implementation of the law).

- ``params``: parameter files (``cpf.toml``, ``cec.toml``, ``c2p.toml``, ``copayment.toml``),
  strict loader, ``value_at(param_id, on)``.
- ``trace``: the explanation every computed amount carries (rule, parameter values with their
  effective dates and legal references, input facts).
- ``cpf``: CPF accrual — CT L6323-11, L6323-11-1, R6323-1, R6323-3-1, R6323-22, L6323-33/34,
  L6323-2; hours era 2015–2018, conversion at 15 €/h on 2019-01-01 (décret 2018-1153), euros since.
- ``cec``: CEC — CT L5151-7 to L5151-12, D5151-14; 20 h then 240 € per activity, 12 €/h conversion.
- ``c2p``: C2P — CT L4163-1 ff., D4163-2, R4163-9, R4163-11, D4163-26; factors, points, uses.
- ``copayment``: participation forfaitaire — CT L6323-7, décret 2024-394.
- ``accounts``: the first year each account counts and the unit of each ledger pot.
- ``ages``: the youngest age of a career (CT L4153-1 1°, L5151-2) and the CPF's stop at the
  automatic full-rate age of the holder's cohort (CT L6323-3 al. 3, L5421-4 1°, CSS L351-8 1°).
- ``debit``: the order a CPF debit draws on the pots — CT R6333-3, décret 2025-1156.
- ``workdays``: French working days (Monday–Friday except public holidays, CT L3133-1), from
  the ``holidays`` calendar; the unit of every training-purchase deadline.
- ``trainings``: the deadlines of a CPF training purchase (``trainings.toml``, domain.md §5.2,
  §6b OQ-7): body answer, holder acceptance, earliest start, withdrawal, declarations,
  automatic validation of the service done, open requests per action.
- ``cancellation``: the money of each way a purchase ends (``cancellation.toml``, §5.3–5.4),
  a policy versioned by the date of the operator's CGU: the split of the hold into posted and
  released, the card payment refunded or kept, and the preview of a cancellation's cost.
- ``yearly``: a person's year of declarations → each account's credit, and the conversion of
  the hours stocks: the one campaign the ledger runs for real and the simulation on paper.

SQL receives what these rules decide as data (an argument, or a generated constant that
tests/ledger/test_rules_in_sql.py proves equal to the rule), never a copy of the rule.
"""

# The face of the package is the faces of its rule modules, each listed once (in its module).
from cpa.rules import c2p, cancellation, cec, cpf, params, trace, trainings, workdays
from cpa.rules import copayment as copayment_rules  # its function is named copayment
from cpa.rules.c2p import *  # noqa: F403
from cpa.rules.cancellation import *  # noqa: F403
from cpa.rules.cec import *  # noqa: F403
from cpa.rules.copayment import *  # noqa: F403
from cpa.rules.cpf import *  # noqa: F403
from cpa.rules.params import *  # noqa: F403
from cpa.rules.trace import *  # noqa: F403
from cpa.rules.trainings import *  # noqa: F403
from cpa.rules.workdays import *  # noqa: F403

__all__: list[str] = []
__all__ += c2p.__all__
__all__ += cancellation.__all__
__all__ += cec.__all__
__all__ += copayment_rules.__all__
__all__ += cpf.__all__
__all__ += params.__all__
__all__ += trace.__all__
__all__ += trainings.__all__
__all__ += workdays.__all__
