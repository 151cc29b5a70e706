"""Simulation contract: the example scenario, refused scenarios, and order independence."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpa.errors import InvalidInput
from cpa.simulation.service import decode_scenario, simulate_json

EXAMPLE: dict[str, Any] = {
    "as_of": "2026-11-25",
    "person": {
        "birth_date": "1980-05-01",
        "low_qualified": [{"from": "2019-01-01", "to": None}],
        "disability": [{"from": "2021-03-01", "to": None}],
        "full_rate_retirement_on": None,
    },
    "activity": [
        {"year": 2019, "kind": "employee", "worked_hours": 1607, "reference_hours": 1607},
        {"year": 2020, "kind": "employee", "worked_hours": 642.8},
        {"year": 2021, "kind": "independent", "months_active": 6},
        {"year": 2022, "kind": "esat"},
    ],
    "exposures": [
        {
            "year": 2024,
            "contract_start": "2024-01-01",
            "contract_end": "2024-12-31",
            "factors": {"night_work": 110, "noise_daily": 650},
        }
    ],
    "engagements": [
        {
            "year": 2020,
            "activity": "associative_volunteering",
            "hours": 210,
            "hours_in_one_organisation": 150,
            "role": "board_member",
        }
    ],
}


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(simulate_json(json.dumps(scenario).encode()))
    return result


def test_example_scenario() -> None:
    """800 € (LQ full) + 320 € (OQ-3: 40 % of 800 €) + 250 € (6/12 independent) + 800 € (ESAT).

    The contract's example output (4 940 €) is illustrative; these are the amounts the law gives.
    """
    rights = run(EXAMPLE)
    assert rights["as_of"] == "2026-11-25"
    assert rights["cpf"]["balance_cents"] == 217000
    assert [e["amount_cents"] for e in rights["cpf"]["entries"]] == [80000, 32000, 25000, 80000]
    assert rights["cec"]["balance_cents"] == 24000
    assert rights["c2p"] == {**rights["c2p"], "points": 8, "points_reserved_for_training": 8}
    for account in ("cpf", "cec", "c2p"):
        for entry in rights[account]["entries"]:
            assert {"rule_id", "legal_reference", "parameter_effective_from", "capped"} <= set(
                entry
            )
            assert "year" in entry or "date" in entry
            assert "amount_cents" in entry or "points" in entry or "hours" in entry


def test_hours_converted_from_2019() -> None:
    scenario = {
        "as_of": "2019-03-01",
        "person": {"birth_date": "1980-01-01"},
        "activity": [
            {"year": y, "kind": "employee", "worked_hours": 1607} for y in range(2015, 2019)
        ],
        "engagements": [{"year": 2018, "activity": "military_reserve", "days": 90}],
    }
    rights = run(scenario)
    conversion = rights["cpf"]["entries"][-1]
    assert (conversion["kind"], conversion["hours"]) == ("conversion", 96)
    assert rights["cpf"]["balance_cents"] == 96 * 1500
    assert rights["cec"]["balance_cents"] == 20 * 1200
    # décrets 2018-1153 and 2018-1349: the hours became euros, no hours are left to show.
    assert (rights["cpf"]["hours_balance"], rights["cec"]["hours_balance"]) == (0, 0)


def test_no_conversion_before_2019() -> None:
    scenario = {
        "as_of": "2018-12-31",
        "person": {"birth_date": "1980-01-01"},
        "activity": [{"year": 2017, "kind": "employee", "worked_hours": 1607}],
    }
    rights = run(scenario)
    assert (rights["cpf"]["balance_cents"], rights["cpf"]["hours_balance"]) == (0, 24)


def test_ceiling_is_reported() -> None:
    scenario = {
        "as_of": "2031-01-01",
        "person": {"birth_date": "1980-01-01"},
        "activity": [
            {"year": y, "kind": "employee", "worked_hours": 1607} for y in range(2019, 2030)
        ],
    }
    rights = run(scenario)
    assert rights["cpf"]["balance_cents"] == 500000
    last = rights["cpf"]["entries"][-1]
    assert last["capped"] is True and last["amount_cents"] == 0


def test_retirement_stops_cpf_not_cec() -> None:
    scenario = {
        "as_of": "2026-01-01",
        "person": {"birth_date": "1958-01-01", "full_rate_retirement_on": "2023-01-01"},
        "activity": [{"year": 2024, "kind": "employee", "worked_hours": 1607}],
        "engagements": [{"year": 2024, "activity": "health_reserve", "days": 30}],
    }
    rights = run(scenario)
    assert rights["cpf"]["balance_cents"] == 0
    assert rights["cec"]["balance_cents"] == 24000


def test_cpf_stops_at_the_automatic_full_rate_age() -> None:
    """CT L6323-3 al. 3 → L5421-4 1°: born 1958-03-15, 67 on 2025-03-15, no pension claimed:
    2024 in full (500 €), 2025 for 73/365 days (100 €), nothing for 2026; the CEC goes on."""
    scenario = {
        "as_of": "2027-01-10",
        "person": {"birth_date": "1958-03-15"},
        "activity": [
            {"year": y, "kind": "employee", "worked_hours": 1607} for y in (2024, 2025, 2026)
        ],
        "engagements": [{"year": 2026, "activity": "military_reserve", "days": 90}],
    }
    rights = run(scenario)
    assert [e["amount_cents"] for e in rights["cpf"]["entries"]] == [50000, 10000, 0]
    assert rights["cpf"]["balance_cents"] == 60000
    assert "automatic full-rate age reached on 2025-03-15" in rights["cpf"]["entries"][1]["note"]
    assert rights["cec"]["balance_cents"] == 24000


# The year of as_of (here 2026) is shown, not credited: 500 € (CT L6323-11), 240 € (D5151-14)
# and 4 points (R4163-9: 130 nights > 100, a full year) expected by 15 June 2027.
IN_PROGRESS = {
    "as_of": "2026-11-25",
    "person": {"birth_date": "1980-05-01"},
    "activity": [{"year": y, "kind": "employee", "worked_hours": 1607} for y in (2025, 2026)],
    "engagements": [{"year": 2026, "activity": "military_reserve", "days": 90}],
    "exposures": [{"year": 2026, "contract_start": "2026-01-01", "contract_end": "2026-12-31",
                   "factors": {"night_work": 130}}],
}  # fmt: skip


def test_year_in_progress_is_projected_not_credited() -> None:
    rights = run(IN_PROGRESS)
    assert (rights["cpf"]["balance_cents"], rights["cec"]["balance_cents"]) == (50000, 0)
    assert rights["c2p"]["points"] == 0
    credited, projected = rights["cpf"]["entries"]
    assert "projected" not in credited and "credit_expected_on" not in credited
    assert (projected["year"], projected["amount_cents"], projected["projected"]) == (
        2026,
        50000,
        True,
    )
    assert projected["credit_expected_on"] == "2027-06-15"
    assert projected["rule_id"] == "cpf.eur.rate_base"
    assert {"cpf.campaign.last_month", "cpf.campaign.last_day"} <= {
        p["id"] for p in projected["parameters"]
    }
    for account, amount in (("cec", ("amount_cents", 24000)), ("c2p", ("points", 4))):
        (entry,) = rights[account]["entries"]
        assert (entry[amount[0]], entry["projected"]) == (amount[1], True), account
        assert entry["credit_expected_on"] == "2027-06-15"


@pytest.mark.parametrize(
    ("as_of", "year", "credited_cents", "projected_years"),
    [
        ("2025-12-31", 2025, 0, [2025]),  # the last day of the year: still in progress
        ("2026-01-01", 2025, 50000, []),  # the next day: credited (its campaign is next spring)
        ("2026-01-01", 2026, 0, [2026]),  # the first day of a year: already shown
    ],
)
def test_year_in_progress_boundaries(
    as_of: str, year: int, credited_cents: int, projected_years: list[int]
) -> None:
    scenario = {"as_of": as_of, "person": {"birth_date": "1980-01-01"},
                "activity": [{"year": year, "kind": "employee", "worked_hours": 1607}]}  # fmt: skip
    rights = run(scenario)
    assert rights["cpf"]["balance_cents"] == credited_cents
    assert [e["year"] for e in rights["cpf"]["entries"] if e.get("projected")] == projected_years


def test_year_in_progress_of_the_hours_era() -> None:
    """as_of in 2018: 2018's hours are projected, not in the hours balance, and not converted."""
    scenario = {"as_of": "2018-10-01", "person": {"birth_date": "1980-01-01"},
                "activity": [{"year": y, "kind": "employee", "worked_hours": 1607}
                             for y in (2017, 2018)]}  # fmt: skip
    rights = run(scenario)
    assert (rights["cpf"]["hours_balance"], rights["cpf"]["balance_cents"]) == (24, 0)
    assert [(e["hours"], e.get("projected", False)) for e in rights["cpf"]["entries"]] == [
        (24, False),
        (24, True),
    ]


def _with(**changes: Any) -> dict[str, Any]:
    scenario: dict[str, Any] = json.loads(json.dumps(EXAMPLE))
    scenario.update(changes)
    return scenario


BAD: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("not JSON", b"{", "$"),
    ("too large", b" " * (1 << 20 + 1), "$"),
    ("unknown field", _with(colour="red"), "$.colour"),
    ("missing as_of", {"person": {"birth_date": "1980-01-01"}}, "$.as_of"),
    ("wrong type", _with(activity=[{"year": "2020", "kind": "esat"}]), "$.activity[0].year"),
    ("unknown kind", _with(activity=[{"year": 2020, "kind": "teacher"}]), "$.activity[0].kind"),
    ("year after as_of", _with(activity=[{"year": 2027, "kind": "esat"}]), "$.activity[0].year"),
    (
        "activity before birth",
        _with(person={"birth_date": "2016-05-01"}, activity=[{"year": 2015, "kind": "esat"}]),
        "$.activity[0].year",
    ),
    (
        "activity at 14 (CT L4153-1)",
        _with(
            person={"birth_date": "2005-01-01"},
            activity=[{"year": 2019, "kind": "employee", "worked_hours": 300}],
        ),
        "$.activity[0].year",
    ),
    (
        "engagement before 15",
        _with(
            person={"birth_date": "2010-06-01"},
            activity=[],
            exposures=[],
            engagements=[{"year": 2024, "activity": "military_reserve", "days": 90}],
        ),
        "$.engagements[0].year",
    ),
    (
        "exposure contract ending before 15",
        _with(
            person={"birth_date": "2009-07-01"},
            activity=[],
            exposures=[{**EXAMPLE["exposures"][0], "contract_end": "2024-06-30"}],
        ),
        "$.exposures[0].contract_end",
    ),
    (
        "exposure contract starting before birth",
        _with(
            person={"birth_date": "1980-05-01"},
            exposures=[{**EXAMPLE["exposures"][0], "contract_start": "1980-04-30"}],
        ),
        "$.exposures[0].contract_start",
    ),
    ("year before 2015", _with(activity=[{"year": 2014, "kind": "esat"}]), "$.activity[0].year"),
    (
        "negative hours",
        _with(activity=[{"year": 2020, "kind": "employee", "worked_hours": -1}]),
        "$.activity[0].worked_hours",
    ),
    (
        "three decimals",
        _with(activity=[{"year": 2020, "kind": "employee", "worked_hours": 1.234}]),
        "$.activity[0].worked_hours",
    ),
    (
        "months over 12",
        _with(activity=[{"year": 2020, "kind": "independent", "months_active": 13}]),
        "$.activity[0].months_active",
    ),
    (
        "missing worked hours",
        _with(activity=[{"year": 2020, "kind": "employee"}]),
        "$.activity[0].worked_centihours",  # the name to use (worked_hours is still read)
    ),
    (
        "field of another kind",
        _with(activity=[{"year": 2020, "kind": "esat", "months_active": 3}]),
        "$.activity[0].months_active",
    ),
    (
        "duplicate kind in a year",
        _with(activity=[{"year": 2020, "kind": "esat"}, {"year": 2020, "kind": "esat"}]),
        "$.activity[1].kind",
    ),
    (
        "unknown factor",
        _with(exposures=[{**EXAMPLE["exposures"][0], "factors": {"stress": 1}}]),
        "$.exposures[0].factors",
    ),
    (
        "negative intensity",
        _with(exposures=[{**EXAMPLE["exposures"][0], "factors": {"night_work": -1}}]),
        "$.exposures[0].factors[...]",
    ),
    (
        "factor not in force",
        _with(exposures=[{**EXAMPLE["exposures"][0], "factors": {"vibrations": 500}}]),
        "$.exposures[0].factors.vibrations",
    ),
    (
        "contract outside its year",
        _with(exposures=[{**EXAMPLE["exposures"][0], "year": 2023}]),
        "$.exposures[0]",
    ),
    (
        "unknown engagement",
        _with(engagements=[{"year": 2020, "activity": "knitting", "hours": 1}]),
        "$.engagements[0].activity",
    ),
    (
        "missing role",
        _with(engagements=[{**EXAMPLE["engagements"][0], "role": None}]),
        "$.engagements[0].role",
    ),
    (
        "CEC before 2017",
        _with(engagements=[{"year": 2016, "activity": "military_reserve", "days": 90}]),
        "$.engagements[0].year",
    ),
    (
        "negative count",
        _with(engagements=[{"year": 2020, "activity": "military_reserve", "days": -5}]),
        "$.engagements[0].days",
    ),
    (
        "period reversed",
        _with(
            person={
                "birth_date": "1980-01-01",
                "disability": [{"from": "2022-01-01", "to": "2021-01-01"}],
            }
        ),
        "$.person.disability[0].to",
    ),
]


@pytest.mark.parametrize(("name", "scenario", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_are_refused(name: str, scenario: bytes | dict[str, Any], field: str) -> None:
    raw = scenario if isinstance(scenario, bytes) else json.dumps(scenario).encode()
    with pytest.raises(InvalidInput) as caught:
        simulate_json(raw)
    errors = caught.value.extensions["errors"]
    assert errors and errors[0]["field"] == field, errors
    assert caught.value.to_problem()["status"] == 422


def test_decode_scenario_returns_structs() -> None:
    scenario = decode_scenario(json.dumps(EXAMPLE).encode())
    assert scenario.activity[1].worked_hours == 642.8


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_order_of_lists_does_not_matter(rng: random.Random) -> None:
    scenario = _with(
        activity=[
            {"year": 2019, "kind": "employee", "worked_hours": 700},
            {"year": 2019, "kind": "independent", "months_active": 9},
            {"year": 2020, "kind": "esat"},
            {"year": 2020, "kind": "employee", "worked_hours": 1607},
            {"year": 2017, "kind": "employee", "worked_hours": 1607},
        ],
        engagements=[
            {"year": 2021, "activity": "military_reserve", "days": 90},
            {"year": 2021, "activity": "health_reserve", "days": 40},
            {"year": 2018, "activity": "civic_service", "months": 6},
        ],
    )
    scenario["exposures"][0]["factors"] = {"noise_daily": 650, "night_work": 110}
    expected = simulate_json(json.dumps(scenario).encode())
    for key in ("activity", "engagements"):
        rng.shuffle(scenario[key])
    factors = list(scenario["exposures"][0]["factors"].items())
    rng.shuffle(factors)
    scenario["exposures"][0]["factors"] = dict(factors)
    assert simulate_json(json.dumps(scenario).encode()) == expected
