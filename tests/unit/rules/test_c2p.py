"""C2P tables: thresholds by date, points per regime, ceilings, doubling, reserved points, uses."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.errors import CpaError, InvalidInput
from cpa.rules.c2p import (
    Exposure,
    InsufficientPoints,
    ReservedPointsNotUsable,
    UseNotAvailable,
    c2p_conversion,
    c2p_factors_in_force,
    c2p_reserved_points,
    c2p_year_points,
    legal_factor,
    whole_months,
)

BORN = dt.date(1980, 5, 1)
D = dt.date


def full_year(year: int, **factors: int) -> Exposure:
    return Exposure(D(year, 1, 1), D(year, 12, 31), factors)


# (year, exposures, birth, acquired_before, points, gross, source)
POINT_CASES = [
    (
        2024,
        [full_year(2024, night_work=110, noise_daily=650)],
        BORN,
        0,
        8,
        8,
        "simulation.md example",
    ),
    (2024, [full_year(2024, night_work=100)], BORN, 0, 4, 4, "D4163-2: 100 nights from 2023-09-01"),
    (2024, [full_year(2024, night_work=99)], BORN, 0, 0, 0, "99 nights"),
    (2024, [full_year(2024, alternating_shifts=30)], BORN, 0, 4, 4, "30 nights of shifts"),
    (2022, [full_year(2022, night_work=119)], BORN, 0, 0, 0, "120 nights before 2023-09-01"),
    (2022, [full_year(2022, night_work=120)], BORN, 0, 4, 4, "R4163-9: 1 point per quarter"),
    (
        2022,
        [full_year(2022, night_work=120, alternating_shifts=50)],
        BORN,
        0,
        8,
        8,
        "2 points poly",
    ),
    (
        2022,
        [full_year(2022, night_work=130, alternating_shifts=60, noise_daily=700)],
        BORN,
        0,
        8,
        8,
        "poly whatever the number, 8/yr",
    ),
    (
        2024,
        [full_year(2024, night_work=130, alternating_shifts=60, noise_daily=700)],
        BORN,
        0,
        12,
        12,
        "2023 reform: per factor",
    ),
    (2023, [full_year(2023, night_work=113)], BORN, 0, 4, 4, "2023 transition: 113 nights"),
    (2023, [full_year(2023, night_work=112)], BORN, 0, 0, 0, "2023 transition: 112 nights"),
    (2023, [full_year(2023, alternating_shifts=43)], BORN, 0, 4, 4, "2023 transition: 43 shifts"),
    (2023, [full_year(2023, alternating_shifts=42)], BORN, 0, 0, 0, "42 shifts"),
    (
        2023,
        [Exposure(D(2023, 1, 1), D(2023, 8, 31), {"night_work": 119})],
        BORN,
        0,
        0,
        0,
        "Jan-Aug: 120",
    ),
    (
        2023,
        [Exposure(D(2023, 1, 1), D(2023, 8, 31), {"night_work": 120})],
        BORN,
        0,
        2,
        2,
        "Jan-Aug: 8 months, old regime",
    ),
    (
        2023,
        [Exposure(D(2023, 9, 1), D(2023, 12, 31), {"night_work": 100})],
        BORN,
        0,
        1,
        1,
        "Sep-Dec: 100, 4 months",
    ),
    (
        2023,
        [Exposure(D(2022, 6, 1), D(2024, 6, 30), {"night_work": 113})],
        BORN,
        0,
        4,
        4,
        "permanent contract over 2023",
    ),
    (
        2024,
        [Exposure(D(2024, 1, 1), D(2024, 1, 30), {"night_work": 200})],
        BORN,
        0,
        0,
        0,
        "contract under 1 month",
    ),
    (
        2024,
        [
            Exposure(D(2024, 1, 1), D(2024, 2, 15), {"night_work": 200}),
            Exposure(D(2024, 6, 1), D(2024, 7, 31), {"night_work": 200}),
        ],
        BORN,
        0,
        1,
        1,
        "contracts cumulated: 1+2 months",
    ),
    (
        2024,
        [Exposure(D(2024, 1, 1), D(2024, 2, 29), {"night_work": 200})],
        BORN,
        0,
        0,
        0,
        "2 months: no period",
    ),
    (2015, [full_year(2015, hyperbaric=60)], BORN, 0, 4, 4, "2015 factor"),
    (2015, [full_year(2015, noise_daily=900)], BORN, 0, 0, 0, "noise not a factor in 2015"),
    (2016, [full_year(2016, noise_daily=600)], BORN, 0, 2, 2, "noise from 2016-07-01: 6 months"),
    (
        2016,
        [full_year(2016, manual_handling=600)],
        BORN,
        0,
        2,
        2,
        "manual handling from 2016-07-01",
    ),
    (
        2017,
        [full_year(2017, manual_handling=600)],
        BORN,
        0,
        3,
        3,
        "manual handling until 2017-09-30",
    ),
    (
        2017,
        [full_year(2017, manual_handling=600, night_work=120)],
        BORN,
        0,
        8,
        8,
        "poly over the year",
    ),
    (2018, [full_year(2018, manual_handling=600)], BORN, 0, 0, 0, "removed factor"),
    (2016, [full_year(2016, night_work=120)], D(1956, 6, 30), 0, 8, 8, "OQ-10: doubling"),
    (2016, [full_year(2016, night_work=120)], D(1956, 7, 1), 0, 4, 4, "OQ-10: no doubling"),
    (2022, [full_year(2022, night_work=120)], BORN, 98, 2, 4, "100-point career ceiling"),
    (2022, [full_year(2022, night_work=120)], BORN, 100, 0, 4, "at the career ceiling"),
    (2024, [full_year(2024, night_work=120)], BORN, 150, 4, 4, "no career ceiling from 2023-09-01"),
    (2024, [], BORN, 0, 0, 0, "no exposure"),
]


@pytest.mark.parametrize(
    ("year", "exposures", "birth", "before", "points", "gross", "source"),
    POINT_CASES,
    ids=[c[-1] for c in POINT_CASES],
)
def test_year_points(
    year: int,
    exposures: list[Exposure],
    birth: dt.date,
    before: int,
    points: int,
    gross: int,
    source: str,
) -> None:
    result = c2p_year_points(year, exposures, birth, before)
    assert (result.points, result.gross_points, result.capped) == (points, gross, points < gross)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (D(2024, 1, 1), D(2024, 12, 31), 12),
        (D(2024, 1, 1), D(2024, 1, 31), 1),
        (D(2024, 1, 1), D(2024, 1, 30), 0),
        (D(2024, 1, 15), D(2024, 2, 14), 1),
        (D(2024, 1, 31), D(2024, 2, 28), 0),
        (D(2024, 1, 31), D(2024, 2, 29), 1),
    ],
)
def test_whole_months(start: dt.date, end: dt.date, months: int) -> None:
    assert whole_months(start, end) == months


@pytest.mark.parametrize(
    ("birth", "quota", "source"),
    [
        (D(1959, 12, 31), 0, "born before 1960: none reserved"),
        (D(1960, 1, 1), 10, "born 1960-1962: 10"),
        (D(1962, 12, 31), 10, "born 1960-1962: 10"),
        (D(1963, 1, 1), 20, "20 reserved"),
    ],
)
def test_reserved_points(birth: dt.date, quota: int, source: str) -> None:
    assert c2p_reserved_points(birth, D(2024, 1, 1))[0] == quota


# (use, points, on, birth, available, reserved, field, expected, source)
CONVERSION_CASES = [
    ("training", 10, D(2018, 12, 31), BORN, 30, 20, "training_hours", 250, "25 h per point"),
    ("training", 10, D(2019, 1, 1), BORN, 30, 20, "amount_cents", 375000, "OQ-11: 375 €"),
    (
        "training",
        10,
        D(2023, 8, 31),
        BORN,
        30,
        20,
        "amount_cents",
        375000,
        "375 € until 2023-08-31",
    ),
    ("training", 10, D(2023, 9, 1), BORN, 30, 20, "amount_cents", 500000, "500 € from 2023-09-01"),
    (
        "reconversion",
        3,
        D(2024, 3, 2),
        BORN,
        30,
        20,
        "amount_cents",
        150000,
        "reconversion 500 €/pt",
    ),
    ("part_time", 10, D(2022, 1, 1), BORN, 30, 20, "part_time_days", 90, "10 pts = 90 days"),
    ("part_time", 10, D(2022, 1, 1), BORN, 30, 20, "part_time_months_at_half_time", 3, "3 months"),
    ("part_time", 10, D(2023, 9, 1), BORN, 30, 20, "part_time_days", 120, "10 pts = 120 days"),
    ("part_time", 10, D(2023, 9, 1), BORN, 30, 20, "part_time_months_at_half_time", 4, "4 months"),
    (
        "retirement",
        80,
        D(2040, 1, 1),
        BORN,
        100,
        20,
        "retirement_quarters",
        8,
        "80 pts = 8 quarters",
    ),
    ("retirement", 10, D(2035, 5, 1), BORN, 30, 20, "retirement_quarters", 1, "from age 55"),
]


@pytest.mark.parametrize(
    ("use", "points", "on", "birth", "available", "reserved", "field", "expected", "source"),
    CONVERSION_CASES,
    ids=[c[-1] for c in CONVERSION_CASES],
)
def test_conversions(
    use: str,
    points: int,
    on: dt.date,
    birth: dt.date,
    available: int,
    reserved: int,
    field: str,
    expected: int,
    source: str,
) -> None:
    result = c2p_conversion(use, points, on, birth, available, reserved)  # type: ignore[arg-type]
    assert getattr(result, field) == expected


def test_part_time_at_60_percent_rounds_half_down() -> None:
    """Operator's example: working 60 % (40 % reduction) gives 112 days for 10 points."""
    result = c2p_conversion("part_time", 10, D(2022, 1, 1), BORN, 30, 20, 4000)
    assert result.part_time_days == 112


# (use, points, on, birth, available, reserved, error, source)
REFUSED = [
    ("part_time", 20, D(2024, 1, 1), BORN, 30, 20, ReservedPointsNotUsable, "reserved points"),
    ("retirement", 20, D(2040, 1, 1), BORN, 30, 20, ReservedPointsNotUsable, "reserved points"),
    ("part_time", 15, D(2024, 1, 1), BORN, 40, 0, InvalidInput, "tranches of 10"),
    ("training", 31, D(2024, 1, 1), BORN, 30, 20, InsufficientPoints, "more than available"),
    ("training", 0, D(2024, 1, 1), BORN, 30, 20, InvalidInput, "zero points"),
    ("reconversion", 10, D(2023, 8, 31), BORN, 30, 20, UseNotAvailable, "before 2023-09-01"),
    ("retirement", 10, D(2035, 4, 30), BORN, 30, 0, UseNotAvailable, "before 55"),
    ("retirement", 90, D(2040, 1, 1), BORN, 100, 0, UseNotAvailable, "more than 8 quarters"),
    ("part_time", 90, D(2030, 1, 1), BORN, 100, 0, UseNotAvailable, "over 80 points before 60"),
]


@pytest.mark.parametrize(
    ("use", "points", "on", "birth", "available", "reserved", "error", "source"),
    REFUSED,
    ids=[c[-1] for c in REFUSED],
)
def test_refused_uses(
    use: str,
    points: int,
    on: dt.date,
    birth: dt.date,
    available: int,
    reserved: int,
    error: type[CpaError],
    source: str,
) -> None:
    with pytest.raises(error):
        c2p_conversion(use, points, on, birth, available, reserved)  # type: ignore[arg-type]


def test_training_consumes_reserved_points_first() -> None:
    result = c2p_conversion("training", 25, D(2024, 1, 1), BORN, 30, 20)
    assert (result.reserved_points_used, result.amount_cents) == (20, 1250000)


# Noise is one factor with two criteria (CT L4163-1; D4163-2 2° c: 81 dB(A) for 600 h a year, or
# 135 dB(C) peaks 120 times a year): either or both is one exposure, counted once for
# polyexposure before 2023-09-01 and earning one factor's points from then (R4163-9).
# (year, exposures, points, factors above threshold, source) — born 1980, nothing before.
N, NIGHT = ("noise",), ("night_work", "noise")
NOISE_CASES = [
    (2022, [full_year(2022, noise_daily=600, noise_peak=120)], 4, N, "both criteria: 1 factor"),
    (2022, [full_year(2022, noise_daily=600)], 4, N, "daily criterion only"),
    (2022, [full_year(2022, noise_peak=120)], 4, N, "peak criterion only"),
    (2022, [full_year(2022, noise_daily=599, noise_peak=119)], 0, (), "neither criterion"),
    (2022, [full_year(2022, noise_daily=600, noise_peak=120, night_work=120)], 8, NIGHT, "poly"),
    (2024, [full_year(2024, noise_daily=600, noise_peak=120)], 4, N, "2024: one factor's points"),
    (2024, [full_year(2024, noise_peak=120)], 4, N, "2024: peak only"),
    (2024, [full_year(2024, noise_daily=599, noise_peak=119)], 0, (), "2024: neither"),
    (2024, [full_year(2024, noise_daily=600, noise_peak=120, night_work=100)], 8, NIGHT, "2024+"),
    (2016, [full_year(2016, noise_daily=600, noise_peak=120)], 2, N, "from 2016-07-01: 6 months"),
    (2017, [full_year(2017, noise_daily=600, noise_peak=120)], 4, N, "kept on 2017-10-01"),
    (
        2023,
        [full_year(2023, noise_daily=600, noise_peak=120, night_work=113)],
        8,
        NIGHT,
        "2023 contract to December: per factor, night (113) + noise",
    ),
    (
        2024,
        [
            Exposure(D(2024, 1, 1), D(2024, 5, 31), {"noise_daily": 600}),
            Exposure(D(2024, 6, 1), D(2024, 10, 31), {"noise_peak": 120}),
        ],
        3,
        N,
        "one factor over two contracts: 5 + 5 months = 3 periods",
    ),
    (
        2024,
        [Exposure(D(2024, 1, 1), D(2024, 5, 31), {"noise_daily": 600, "noise_peak": 120})],
        1,
        N,
        "both criteria on a 5-month contract: 1 period",
    ),
]


@pytest.mark.parametrize(
    ("year", "exposures", "points", "above", "source"),
    NOISE_CASES,
    ids=[c[-1] for c in NOISE_CASES],
)
def test_noise_is_one_factor(
    year: int, exposures: list[Exposure], points: int, above: tuple[str, ...], source: str
) -> None:
    result = c2p_year_points(year, exposures, BORN, 0)
    assert (result.points, result.factors_above_threshold) == (points, above)


# (date, number of factors, source: CT L4163-1 / L4161-1 (old))
FACTOR_COUNTS = [
    (D(2015, 1, 1), 4, "loi 2014-40: 4 factors"),
    (D(2016, 6, 30), 4, "day before décret 2015-1888"),
    (D(2016, 7, 1), 10, "décret 2015-1888: 10 factors, noise one of them"),
    (D(2017, 9, 30), 10, "day before ordonnance 2017-1389"),
    (D(2017, 10, 1), 6, "ordonnance 2017-1389: 6 factors"),
    (D(2030, 1, 1), 6, "6 factors since"),
]


@pytest.mark.parametrize(
    ("on", "count", "source"), FACTOR_COUNTS, ids=[c[-1] for c in FACTOR_COUNTS]
)
def test_number_of_factors(on: dt.date, count: int, source: str) -> None:
    factors = c2p_factors_in_force(on)
    assert len(factors) == count
    assert len(set(factors)) == count


def test_the_six_factors_since_2017_10_01() -> None:
    assert set(c2p_factors_in_force(D(2017, 10, 1))) == {
        "night_work",
        "alternating_shifts",
        "repetitive_work",
        "hyperbaric",
        "extreme_temperatures",
        "noise",
    }
    assert (legal_factor("noise_daily"), legal_factor("noise_peak")) == ("noise", "noise")


# The 80-point limit on part time before 60 comes with décret 2023-760 (in force 2023-09-01,
# CT D4163-26); before, no limit. (points, on, allowed, source) — born 1980-05-01.
PART_TIME_LIMIT = [
    (90, D(2023, 8, 31), True, "no limit before décret 2023-760"),
    (90, D(2023, 9, 1), False, "décret 2023-760: at most 80 points before 60"),
    (80, D(2023, 9, 1), True, "80 points allowed"),
    (90, D(2040, 4, 30), False, "the day before the 60th birthday"),
    (90, D(2040, 5, 1), True, "from the 60th birthday"),
]


@pytest.mark.parametrize(
    ("points", "on", "allowed", "source"), PART_TIME_LIMIT, ids=[c[-1] for c in PART_TIME_LIMIT]
)
def test_part_time_limit_before_60(points: int, on: dt.date, allowed: bool, source: str) -> None:
    if allowed:
        result = c2p_conversion("part_time", points, on, BORN, 100, 0)
        assert result.part_time_days is not None and result.part_time_days > 0
    else:
        with pytest.raises(UseNotAvailable):
            c2p_conversion("part_time", points, on, BORN, 100, 0)
