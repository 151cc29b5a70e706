"""The money of each way a training purchase ends (domain.md §5.3–5.4, §6b OQ-7).

Amounts computed by hand. The usual purchase: a price of 1 500.00 € and 1 396.80 € of rights
held, the holder having paid the 2026 participation forfaitaire of 103.20 € by card
(CT L6323-7, arrêté of 30 Dec 2025). The card payment, when kept, pays what is due first; the
held rights pay the rest (decision training.settle.paid_outside_hold_first).
"""

from __future__ import annotations

import ast
import datetime as dt
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpa.errors import InvalidInput
from cpa.rules.cancellation import (
    CASES,
    Case,
    cancellation_cost,
    check_policy,
    classify_holder_cancel,
    classify_holder_exit,
    policy_version_on,
    settle,
)
from cpa.rules.params import PACKAGED_FILES, ParameterFileError, load_parameters

D = dt.date
ON = D(2026, 3, 1)  # an acceptance under the CGU of 2024-07-11
PRICE, HELD, CARD = 150000, 139680, 10320
NOTHING_HELD = {"no_answer", "not_accepted_in_time", "holder_refuse", "body_refuse"}


@pytest.mark.parametrize(
    ("case", "price", "held", "completion", "posted", "released", "refunded", "source"),
    [
        ("withdrawal", PRICE, HELD, 0, 0, HELD, True, "CGU 2019 art. 4.1 and 6; help pages"),
        ("holder_cancel_early", PRICE, HELD, 0, 0, HELD, True, "CGU: > 7 working days before"),
        ("holder_cancel_late", PRICE, HELD, 0, HELD, 0, False, "CGU: <= 7 days, debited 100 %"),
        ("no_show", PRICE, HELD, 0, HELD, 0, False, "CGU (certi-cpf.fr): debited 100 %"),
        ("force_majeure", PRICE, HELD, 0, 0, HELD, True, "CGU: force majeure re-credited"),
        ("body_cancel", PRICE, HELD, 0, 0, HELD, True, "OF flow charts 2022: body cancels"),
        ("financer_cancel", PRICE, HELD, 0, 0, HELD, True, "decision: like the body's"),
        ("body_refuse", PRICE, 0, 0, 0, 0, True, "OF refuses before any hold"),
        ("no_answer", PRICE, 0, 0, 0, 0, True, "CGU 2019: no answer, request cancelled"),
        ("not_accepted_in_time", PRICE, 0, 0, 0, 0, True, "help pages: 4 working days"),
        ("holder_refuse", PRICE, 0, 0, 0, 0, True, "refusedByAttendee: nothing held"),
        # Abandonment grid (older CGU, zdacademy.fr): < 25 % ⇒ 25 %: 37 500 due, card 10 320.
        ("holder_abandon", PRICE, HELD, 0, 27180, 112500, False, "grid: 0 % ⇒ 25 %"),
        ("holder_abandon", PRICE, HELD, 1000, 27180, 112500, False, "grid: 10 % ⇒ 25 %"),
        ("holder_abandon", PRICE, HELD, 2499, 27180, 112500, False, "grid: 24.99 % ⇒ 25 %"),
        ("holder_abandon", PRICE, HELD, 2500, 27180, 112500, False, "grid: exactly 25 %"),
        ("holder_abandon", PRICE, HELD, 2501, 27195, 112485, False, "grid: 25.01 % pro rata"),
        ("holder_abandon", PRICE, HELD, 5000, 64680, 75000, False, "grid: 50 % pro rata"),
        ("holder_abandon", PRICE, HELD, 7999, 109665, 30015, False, "grid: 79.99 % pro rata"),
        ("holder_abandon", PRICE, HELD, 8000, HELD, 0, False, "grid: exactly 80 % ⇒ 100 %"),
        ("holder_abandon", PRICE, HELD, 9000, HELD, 0, False, "grid: 90 % ⇒ 100 %"),
        # Body interrupts (decision): pro rata, the rest released; card kept, paying first.
        ("body_interrupt", PRICE, HELD, 4000, 49680, 90000, False, "decision: 40 % pro rata"),
        ("body_interrupt", PRICE, HELD, 500, 0, HELD, False, "7 500 due < card 10 320"),
        # Service done validated (of.moncompteformation.gouv.fr): the completion rate's amount.
        ("completed", PRICE, HELD, 10000, HELD, 0, False, "service done, 100 %"),
        ("completed", PRICE, HELD, 6000, 79680, 60000, False, "service done, 60 %"),
        ("completed", 99999, 89679, 7333, 63009, 26670, False, "73 329.27 rounded down"),
        ("completed", PRICE, HELD, 0, 0, HELD, False, "declared 0 %: all rights back"),
        # Job seeker (no participation forfaitaire): the whole price is held.
        ("holder_abandon", PRICE, PRICE, 1000, 37500, 112500, False, "job seeker, 25 %"),
        ("completed", PRICE, PRICE, 6000, 90000, 60000, False, "job seeker, 60 %"),
        # Price above the rights: 2 000.00 € held, 500.00 € paid by card.
        ("holder_cancel_late", 250000, 200000, 0, 200000, 0, False, "rights short of price"),
        ("holder_abandon", 250000, 200000, 1000, 12500, 187500, False, "625.00 due − 500.00"),
        ("withdrawal", 250000, 200000, 0, 0, 200000, True, "all rights back, card refunded"),
        ("completed", 0, 0, 10000, 0, 0, False, "a free training"),
    ],
)
def test_settle(
    case: Case,
    price: int,
    held: int,
    completion: int,
    posted: int,
    released: int,
    refunded: bool,
    source: str,
) -> None:
    found = settle(
        case, price_cents=price, held_cents=held, completion_basis_points=completion, on=ON
    )
    got = (found.posted_cents, found.released_cents, found.copayment_refunded)
    assert got == (posted, released, refunded), source
    assert found.case == case
    assert found.policy_version == "2024-07-11"


def test_a_settlement_explains_itself() -> None:
    """The rule, the CGU version, the grid used and their references are in the trace."""
    found = settle(
        "holder_abandon",
        price_cents=PRICE,
        held_cents=HELD,
        completion_basis_points=1000,
        on=ON,
    )
    assert found.rule_id == "training.cancel.holder_abandon"
    assert found.legal_reference == found.trace.main.reference.article != ""
    assert found.due_cents == 37500
    ids = [p.id for p in found.trace.parameters]
    assert ids == [
        "training.cancel.holder_abandon.due",
        "training.cancel.holder_abandon.copayment_refunded",
        "training.cgu.version",
        "training.settle.paid_outside_hold_first",
        "training.abandon.minimum_due",
        "training.abandon.full_due_from",
    ]
    assert found.trace.facts["due_basis_points"] == 2500
    assert all(p.reference.text for p in found.trace.parameters)


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (D(2019, 11, 21), "2019-11-21"),
        (D(2021, 6, 9), "2019-11-21"),
        (D(2021, 6, 10), "2021-06-10"),
        (D(2023, 12, 14), "2023-12-14"),
        (D(2024, 7, 10), "2023-12-14"),
        (D(2024, 7, 11), "2024-07-11"),
        (D(2026, 5, 4), "2024-07-11"),
    ],
)
def test_policy_version_is_the_cgu_date(on: dt.date, version: str) -> None:
    assert policy_version_on(on) == version
    found = settle(
        "withdrawal", price_cents=PRICE, held_cents=HELD, completion_basis_points=0, on=on
    )
    assert found.policy_version == version


@pytest.mark.parametrize(
    ("accepted_on", "today", "start", "expected", "source"),
    [
        # Accepted Mon 27 Apr 2026: 11 working days (1, 8, 14 May closed) end on Fri 15 May.
        (D(2026, 4, 27), D(2026, 4, 28), D(2026, 6, 15), "withdrawal", "help pages: 11 days"),
        (D(2026, 4, 27), D(2026, 5, 15), D(2026, 6, 15), "withdrawal", "last day of the 11"),
        (D(2026, 4, 27), D(2026, 5, 18), D(2026, 6, 15), "holder_cancel_early", "period over"),
        # Start Mon 15 June: 8 working days left on Wed 3 June, exactly 7 on Thu 4 June.
        (D(2026, 4, 27), D(2026, 6, 3), D(2026, 6, 15), "holder_cancel_early", "8 days left"),
        (D(2026, 4, 27), D(2026, 6, 4), D(2026, 6, 15), "holder_cancel_late", "exactly 7 left"),
        (D(2026, 4, 27), D(2026, 6, 15), D(2026, 6, 15), "holder_cancel_late", "start day"),
        (D(2026, 4, 27), D(2026, 6, 20), D(2026, 6, 15), "holder_cancel_late", "after start"),
        (D(2026, 4, 27), D(2026, 5, 12), D(2026, 5, 12), "holder_cancel_late", "started (2019)"),
        # Start Tue 26 May 2026: Whit Monday and Ascension do not count as days of notice.
        (D(2026, 4, 1), D(2026, 5, 12), D(2026, 5, 26), "holder_cancel_early", "8 days left"),
        (D(2026, 4, 1), D(2026, 5, 13), D(2026, 5, 26), "holder_cancel_late", "7 days left"),
        # 2019 CGU: 14 working days after Mon 2 March 2020 end on Fri 20 March.
        (D(2020, 3, 2), D(2020, 3, 20), D(2020, 4, 20), "withdrawal", "CGU 2019: 14 days"),
        (D(2020, 3, 2), D(2020, 3, 23), D(2020, 4, 20), "holder_cancel_early", "CGU 2019"),
    ],
)
def test_classify_holder_cancel(
    accepted_on: dt.date, today: dt.date, start: dt.date, expected: Case, source: str
) -> None:
    found = classify_holder_cancel(today=today, start=start, accepted_on=accepted_on)
    assert found == expected, source


def test_classify_holder_exit() -> None:
    assert classify_holder_exit(force_majeure=True) == "force_majeure"
    assert classify_holder_exit(force_majeure=False) == "holder_abandon"


@pytest.mark.parametrize(
    ("today", "entered", "completion", "expected", "why"),
    [
        (D(2026, 5, 4), False, 0, ("withdrawal", 0, 0, 0), "within withdrawal"),
        (D(2026, 6, 3), False, 0, ("holder_cancel_early", 0, 0, 0), "8 working days left"),
        (D(2026, 6, 4), False, 0, ("holder_cancel_late", HELD, CARD, PRICE), "7 left"),
        (D(2026, 6, 16), True, 1000, ("holder_abandon", 27180, CARD, 37500), "left at 10 %"),
        (D(2026, 6, 30), True, 8000, ("holder_abandon", HELD, CARD, PRICE), "left at 80 %"),
    ],
)
def test_cancellation_cost(
    today: dt.date,
    entered: bool,
    completion: int,
    expected: tuple[str, int, int, int],
    why: str,
) -> None:
    """What the citizen's preview shows: accepted 27 April 2026, start 15 June 2026."""
    cost = cancellation_cost(
        today=today,
        start=D(2026, 6, 15),
        accepted_on=D(2026, 4, 27),
        price_cents=PRICE,
        held_cents=HELD,
        entered=entered,
        completion_basis_points=completion,
    )
    got = (cost.case, cost.rights_lost_cents, cost.card_payment_lost_cents, cost.total_cents)
    assert got == expected, why
    assert cost.settlement.posted_cents == cost.rights_lost_cents


@pytest.mark.parametrize(
    ("price", "held", "completion", "field"),
    [
        (-1, 0, 0, "price_cents"),
        (PRICE, PRICE + 1, 0, "held_cents"),
        (PRICE, -1, 0, "held_cents"),
        (PRICE, HELD, -1, "completion_basis_points"),
        (PRICE, HELD, 10001, "completion_basis_points"),
    ],
)
def test_amounts_out_of_range_are_refused(
    price: int, held: int, completion: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        settle(
            "completed",
            price_cents=price,
            held_cents=held,
            completion_basis_points=completion,
            on=ON,
        )
    assert [e["field"] for e in refused.value.extensions["errors"]] == [field]


amounts = st.integers(min_value=0, max_value=10**10).flatmap(
    lambda price: st.tuples(st.just(price), st.integers(min_value=0, max_value=price))
)


@given(
    case=st.sampled_from(CASES),
    price_held=amounts,
    completion=st.integers(min_value=0, max_value=10000),
    on=st.dates(min_value=D(2019, 11, 21), max_value=D(2035, 12, 31)),
)
def test_the_hold_is_always_split_exactly(
    case: Case, price_held: tuple[int, int], completion: int, on: dt.date
) -> None:
    """For every case and amount: held = posted + released, both >= 0, to the cent; the holder
    never pays more than the price, and the body gets what is due when the card covers less."""
    price, held = price_held
    found = settle(
        case, price_cents=price, held_cents=held, completion_basis_points=completion, on=on
    )
    assert found.posted_cents >= 0 and found.released_cents >= 0
    assert found.posted_cents + found.released_cents == held
    card_kept = 0 if found.copayment_refunded else price - held
    assert 0 <= found.due_cents <= price
    assert found.posted_cents + card_kept <= price
    if found.due_cents >= card_kept:
        assert found.posted_cents + card_kept == found.due_cents


def _packaged(replace: tuple[str, str] | None = None) -> dict[str, bytes]:
    folder = resources.files("cpa.rules")
    files = {name: folder.joinpath(name).read_text() for name in PACKAGED_FILES}
    if replace:
        old, new = replace
        assert old in files["cancellation.toml"]
        files["cancellation.toml"] = files["cancellation.toml"].replace(old, new, 1)
    return {name: text.encode() for name, text in files.items()}


LATE = 'id = "training.cancel.holder_cancel_late.copayment_refunded"'


def test_the_packaged_policy_passes_its_check() -> None:
    check_policy(load_parameters(_packaged()))


@pytest.mark.parametrize(
    ("replace", "why"),
    [
        (('value = ["price"]', 'value = ["half"]'), "unknown due rule"),
        (('value = ["price"]', 'value = ["price", "nothing"]'), "two due rules"),
        (('id = "training.cancel.no_show.due"', 'id = "training.cancel.no_shows.due"'), "missing"),
    ],
)
def test_a_broken_policy_is_refused(replace: tuple[str, str], why: str) -> None:
    params = load_parameters(_packaged(replace))
    with pytest.raises(ParameterFileError):
        check_policy(params)


def test_a_case_refunding_a_card_payment_it_makes_due_is_refused() -> None:
    """A late cancellation (100 % due) cannot refund the card: the hold could not pay it all."""
    text = _packaged()["cancellation.toml"].decode()
    start = text.index(LATE)
    late = text[start:].replace("value = false", "value = true", 1)
    params = load_parameters({**_packaged(), "cancellation.toml": (text[:start] + late).encode()})
    with pytest.raises(ParameterFileError, match="refunds"):
        check_policy(params)


RULES = Path(__file__).resolve().parents[3] / "cpa" / "rules"


@pytest.mark.parametrize("module", ["cancellation.py", "trainings.py"])
def test_no_date_is_written_in_the_policy_code(module: str) -> None:
    """The policy picks its rules by dated rows in the TOML files, never by a date in code."""
    tree = ast.parse((RULES / module).read_text())
    dates = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"date", "fromisoformat"}
    ]
    assert dates == []
