"""Deadlines of a CPF training purchase, in French working days (domain.md §5.2, §6b OQ-7).

The body answers a request within 2 working days, the holder accepts a proposal within 4, the
start is at least 11 working days after the proposal (since 2021-06-10), the holder may withdraw
within 11 working days after accepting (14 under the 2019 CGU), the body declares entry and exit
within 3, and the service done is validated automatically 5 working days after its declaration.
A holder has at most 5 open requests per training action. Values in ``trainings.toml``.

Every period uses the parameters in force on the day it starts from (the request, the proposal,
the acceptance, the declaration), and ends on a *due* day: the last day the act is on time. A
deadline has passed from the day after (``deadline_passed``); an act the server itself owes
(the automatic validation) falls on a day (``day_reached``). Callers never compare dates
themselves: the server's sweep stores the day a rule gives and asks these predicates.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from cpa.rules.params import ParamValue, int_value, value_at
from cpa.rules.workdays import add_working_days, working_days_between

__all__ = [
    "Deadlines",
    "body_answer_due",
    "day_reached",
    "deadline_passed",
    "deadlines_on",
    "declaration_due",
    "earliest_start",
    "holder_acceptance_due",
    "open_request_allowed",
    "service_done_validated_on",
    "start_allowed",
    "withdrawal_due",
    "within_withdrawal",
]

_IDS = {
    "body_answer_days": "training.deadline.body_answer",
    "holder_acceptance_days": "training.deadline.holder_acceptance",
    "start_after_proposal_days": "training.deadline.start_after_proposal",
    "withdrawal_days": "training.deadline.withdrawal",
    "entry_exit_declaration_days": "training.deadline.entry_exit_declaration",
    "service_done_validation_days": "training.deadline.service_done_validation",
    "open_requests_max": "training.open_requests_max",
}


class Deadlines(msgspec.Struct, frozen=True):
    """The deadlines in force on one day, in working days, with the parameters they come from."""

    body_answer_days: int
    holder_acceptance_days: int
    start_after_proposal_days: int
    withdrawal_days: int
    entry_exit_declaration_days: int
    service_done_validation_days: int
    open_requests_max: int
    # The parameter values above, in field order (for traces: value, effective date, reference).
    parameters: tuple[ParamValue, ...]

    def parameter(self, field: str) -> ParamValue:
        """The parameter value behind one field (``"withdrawal_days"`` …)."""
        return self.parameters[list(_IDS).index(field)]


def deadlines_on(day: dt.date) -> Deadlines:
    """The deadlines in force on ``day``; raise ParameterNotInForce before 2019-11-21."""
    params = tuple(value_at(param_id, day) for param_id in _IDS.values())
    values = dict(zip(_IDS, (int_value(p) for p in params), strict=True))
    return Deadlines(**values, parameters=params)


def deadline_passed(*, today: dt.date, due: dt.date) -> bool:
    """A deadline whose last day is ``due`` has passed from the day after."""
    return today > due


def day_reached(*, today: dt.date, day: dt.date) -> bool:
    """The server's own act falls due on ``day`` (an automatic validation): from that day on."""
    return today >= day


def body_answer_due(requested_on: dt.date) -> dt.date:
    """The last day the body may validate or refuse a request made on ``requested_on``."""
    return add_working_days(requested_on, deadlines_on(requested_on).body_answer_days)


def holder_acceptance_due(proposed_on: dt.date) -> dt.date:
    """The last day the holder may accept a proposal sent on ``proposed_on``."""
    return add_working_days(proposed_on, deadlines_on(proposed_on).holder_acceptance_days)


def earliest_start(proposed_on: dt.date) -> dt.date:
    """The first start date a proposal sent on ``proposed_on`` may give."""
    return add_working_days(proposed_on, deadlines_on(proposed_on).start_after_proposal_days)


def start_allowed(*, proposed_on: dt.date, start: dt.date) -> bool:
    """The start is at least the minimum number of working days after the proposal."""
    minimum = deadlines_on(proposed_on).start_after_proposal_days
    return start >= proposed_on and working_days_between(proposed_on, start) >= minimum


def withdrawal_due(accepted_on: dt.date) -> dt.date:
    """The last day of the withdrawal period of an acceptance on ``accepted_on``."""
    return add_working_days(accepted_on, deadlines_on(accepted_on).withdrawal_days)


def within_withdrawal(*, today: dt.date, accepted_on: dt.date, start: dt.date) -> bool:
    """The holder may still withdraw: within the period, and the training has not started."""
    return today < start and not deadline_passed(today=today, due=withdrawal_due(accepted_on))


def declaration_due(event_on: dt.date) -> dt.date:
    """The last day the body may declare an entry or an exit that happened on ``event_on``."""
    return add_working_days(event_on, deadlines_on(event_on).entry_exit_declaration_days)


def service_done_validated_on(declared_on: dt.date) -> dt.date:
    """The day a service done declared on ``declared_on`` is validated automatically.

    The operator validates "within 5 working days" unless it opens a control: the 5th working
    day after the declaration is the day the server validates it by itself (``day_reached``).
    """
    days = deadlines_on(declared_on).service_done_validation_days
    return add_working_days(declared_on, days)


def open_request_allowed(*, open_requests: int, on: dt.date) -> bool:
    """A holder with ``open_requests`` open for one action may open one more on ``on``."""
    return open_requests < deadlines_on(on).open_requests_max
