"""Deadlines of a CPF training purchase in working days (domain.md §5.2, §6b OQ-7).

Each expected day is counted by hand on the calendar of May 2026 (1 and 8 May are Fridays,
Ascension Thursday 14 May, Whit Monday 25 May) or around Easter (Easter Monday 6 April 2026).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from cpa.rules.params import ParameterNotInForce
from cpa.rules.trainings import (
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

D = dt.date


@pytest.mark.parametrize(
    ("day", "expected", "source"),
    [
        (D(2019, 11, 21), (2, 4, 0, 14, 3, 5, 5), "CGU 2019 (cpformation.com): 14-day withdrawal"),
        (D(2021, 6, 9), (2, 4, 0, 14, 3, 5, 5), "the day before the CDC rule of 2021-06-10"),
        (D(2021, 6, 10), (2, 4, 11, 11, 3, 5, 5), "CDC rule of 2021-06-10; OQ-7"),
        (D(2026, 5, 4), (2, 4, 11, 11, 3, 5, 5), "current help pages; OQ-7"),
    ],
)
def test_deadlines_on(day: dt.date, expected: tuple[int, ...], source: str) -> None:
    found = deadlines_on(day)
    got = (
        found.body_answer_days,
        found.holder_acceptance_days,
        found.start_after_proposal_days,
        found.withdrawal_days,
        found.entry_exit_declaration_days,
        found.service_done_validation_days,
        found.open_requests_max,
    )
    assert got == expected, source


def test_deadlines_carry_their_parameters() -> None:
    found = deadlines_on(D(2026, 5, 4))
    withdrawal = found.parameter("withdrawal_days")
    assert (withdrawal.id, withdrawal.value) == ("training.deadline.withdrawal", 11)
    assert withdrawal.effective_from == D(2021, 6, 10)
    assert [p.value for p in found.parameters] == [2, 4, 11, 11, 3, 5, 5]
    assert all(p.reference.article for p in found.parameters)


def test_no_deadline_before_mon_compte_formation() -> None:
    with pytest.raises(ParameterNotInForce):
        deadlines_on(D(2019, 11, 20))


@pytest.mark.parametrize(
    ("function", "start", "expected", "why"),
    [
        (body_answer_due, D(2026, 5, 6), D(2026, 5, 11), "Wed + 2 over 8 May and the weekend"),
        (body_answer_due, D(2026, 5, 13), D(2026, 5, 18), "Wed + 2 over Ascension Thursday"),
        (body_answer_due, D(2026, 5, 22), D(2026, 5, 27), "Fri + 2 over Whit Monday"),
        (body_answer_due, D(2026, 4, 3), D(2026, 4, 8), "Good Friday + 2 over Easter Monday"),
        (holder_acceptance_due, D(2026, 5, 12), D(2026, 5, 19), "Tue + 4 over Ascension"),
        (holder_acceptance_due, D(2026, 4, 30), D(2026, 5, 7), "Thu + 4 over 1 May"),
        (earliest_start, D(2026, 4, 30), D(2026, 5, 20), "Thu + 11 over 1, 8 and 14 May"),
        (earliest_start, D(2021, 6, 9), D(2021, 6, 9), "no minimum before 2021-06-10"),
        (withdrawal_due, D(2026, 5, 4), D(2026, 5, 21), "Mon + 11 over 8 and 14 May"),
        (withdrawal_due, D(2020, 3, 2), D(2020, 3, 20), "2019 CGU: Mon + 14"),
        (declaration_due, D(2026, 5, 7), D(2026, 5, 13), "Thu + 3 over 8 May"),
        (service_done_validated_on, D(2026, 5, 20), D(2026, 5, 28), "Wed + 5 over Whit Monday"),
    ],
)
def test_due_days(
    function: Callable[[dt.date], dt.date], start: dt.date, expected: dt.date, why: str
) -> None:
    assert function(start) == expected, why


@pytest.mark.parametrize(
    ("today", "passed"),
    [(D(2026, 5, 8), False), (D(2026, 5, 11), False), (D(2026, 5, 12), True)],
)
def test_a_body_answer_is_late_from_the_day_after_the_due_day(today: dt.date, passed: bool) -> None:
    """A request of Wednesday 6 May 2026 may be answered until Monday 11 May (8 May, weekend)."""
    due = body_answer_due(D(2026, 5, 6))
    assert deadline_passed(today=today, due=due) is passed


@pytest.mark.parametrize(
    ("today", "reached"),
    [(D(2026, 5, 27), False), (D(2026, 5, 28), True), (D(2026, 5, 29), True)],
)
def test_the_service_done_is_validated_on_the_fifth_working_day(
    today: dt.date, reached: bool
) -> None:
    day = service_done_validated_on(D(2026, 5, 20))
    assert day_reached(today=today, day=day) is reached


@pytest.mark.parametrize(
    ("proposed_on", "start", "allowed", "why"),
    [
        (D(2026, 4, 30), D(2026, 5, 20), True, "exactly 11 working days"),
        (D(2026, 4, 30), D(2026, 5, 19), False, "10 working days"),
        (D(2026, 4, 30), D(2026, 5, 23), True, "a Saturday after the 11th working day"),
        (D(2021, 6, 9), D(2021, 6, 9), True, "no minimum before 2021-06-10"),
        (D(2021, 6, 9), D(2021, 6, 8), False, "never before the proposal"),
    ],
)
def test_start_allowed(proposed_on: dt.date, start: dt.date, allowed: bool, why: str) -> None:
    assert start_allowed(proposed_on=proposed_on, start=start) is allowed, why


@pytest.mark.parametrize(
    ("today", "start", "within", "why"),
    [
        (D(2026, 5, 21), D(2026, 6, 15), True, "last day of the 11 working days"),
        (D(2026, 5, 22), D(2026, 6, 15), False, "the day after"),
        (D(2026, 5, 12), D(2026, 5, 12), False, "the training has started (2019 CGU)"),
        (D(2026, 5, 11), D(2026, 5, 12), True, "the day before the start"),
    ],
)
def test_within_withdrawal(today: dt.date, start: dt.date, within: bool, why: str) -> None:
    """Accepted on Monday 4 May 2026: the period ends on Thursday 21 May (8 and 14 May)."""
    assert within_withdrawal(today=today, accepted_on=D(2026, 5, 4), start=start) is within, why


@pytest.mark.parametrize(("open_requests", "allowed"), [(0, True), (4, True), (5, False)])
def test_at_most_five_open_requests(open_requests: int, allowed: bool) -> None:
    """CGU 2019 (cpformation.com): 5 requests at most per training action."""
    assert open_request_allowed(open_requests=open_requests, on=D(2026, 5, 4)) is allowed
