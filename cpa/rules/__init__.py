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

from cpa.rules.c2p import (
    C2pConversion,
    C2pUse,
    C2pYearPoints,
    Exposure,
    Factor,
    InsufficientPoints,
    ReservedPointsNotUsable,
    UseNotAvailable,
    c2p_conversion,
    c2p_factors_in_force,
    c2p_points_reserved_remaining,
    c2p_reserved_points,
    c2p_year_points,
)
from cpa.rules.cancellation import (
    CancellationCost,
    Case,
    Settlement,
    cancellation_cost,
    classify_holder_cancel,
    classify_holder_exit,
    policy_version_on,
    settle,
)
from cpa.rules.cec import (
    CecAccrual,
    CecHoursAccrual,
    CecHoursConversion,
    Engagement,
    EngagementKind,
    cec_convert_hours_to_cents,
    cec_hours_year_accrual,
    cec_year_accrual,
)
from cpa.rules.copayment import Copayment, CopaymentSituation, copayment
from cpa.rules.cpf import (
    Activity,
    ActivityKind,
    CpfAccrual,
    CpfHoursAccrual,
    HoursConversion,
    PersonYearStatus,
    convert_hours_to_cents,
    cpf_hours_year_accrual,
    cpf_year_accrual,
)
from cpa.rules.params import (
    PARAMETERS,
    ParameterFileError,
    ParameterNotInForce,
    ParamValue,
    Reference,
    load_parameters,
    value_at,
    value_or_none,
)
from cpa.rules.trace import Trace
from cpa.rules.trainings import (
    Deadlines,
    body_answer_due,
    day_reached,
    deadline_passed,
    deadlines_on,
    declaration_due,
    earliest_start,
    holder_acceptance_due,
    open_request_allowed,
    service_done_validated_on,
    start_allowed,
    withdrawal_due,
    within_withdrawal,
)
from cpa.rules.workdays import add_working_days, is_working_day, working_days_between

__all__ = [
    "PARAMETERS",
    "Activity",
    "ActivityKind",
    "C2pConversion",
    "C2pUse",
    "C2pYearPoints",
    "CancellationCost",
    "Case",
    "CecAccrual",
    "CecHoursAccrual",
    "CecHoursConversion",
    "Copayment",
    "CopaymentSituation",
    "CpfAccrual",
    "CpfHoursAccrual",
    "Deadlines",
    "Engagement",
    "EngagementKind",
    "Exposure",
    "Factor",
    "HoursConversion",
    "InsufficientPoints",
    "ParamValue",
    "ParameterFileError",
    "ParameterNotInForce",
    "PersonYearStatus",
    "Reference",
    "ReservedPointsNotUsable",
    "Settlement",
    "Trace",
    "UseNotAvailable",
    "add_working_days",
    "body_answer_due",
    "c2p_conversion",
    "c2p_factors_in_force",
    "c2p_points_reserved_remaining",
    "c2p_reserved_points",
    "c2p_year_points",
    "cancellation_cost",
    "cec_convert_hours_to_cents",
    "cec_hours_year_accrual",
    "cec_year_accrual",
    "classify_holder_cancel",
    "classify_holder_exit",
    "convert_hours_to_cents",
    "copayment",
    "cpf_hours_year_accrual",
    "cpf_year_accrual",
    "day_reached",
    "deadline_passed",
    "deadlines_on",
    "declaration_due",
    "earliest_start",
    "holder_acceptance_due",
    "is_working_day",
    "load_parameters",
    "open_request_allowed",
    "policy_version_on",
    "service_done_validated_on",
    "settle",
    "start_allowed",
    "value_at",
    "value_or_none",
    "withdrawal_due",
    "within_withdrawal",
    "working_days_between",
]
