"""The C2P points still reserved to training: one rule, read by the account, the uses and the
simulation (CT L4163-7, R4163-11; compteprofessionnelprevention.fr/reconversion)."""

from __future__ import annotations

import datetime as dt

import pytest

from cpa.rules import c2p_points_reserved_remaining

ON = dt.date(2026, 1, 1)
YOUNG = dt.date(1980, 1, 1)  # 20 reserved
MIDDLE = dt.date(1961, 6, 1)  # born 1960-1962: 10 reserved
OLD = dt.date(1958, 1, 1)  # born before 1960: none


@pytest.mark.parametrize(
    ("birth", "points", "used", "expected", "why"),
    [
        (YOUNG, 30, {}, 20, "the first 20 points are reserved"),
        (YOUNG, 8, {}, 8, "never more than what is available"),
        (YOUNG, 30, {"training": 5}, 15, "training spends the reserve"),
        (YOUNG, 30, {"reconversion": 5, "training": 5}, 10, "so does reconversion"),
        (YOUNG, 30, {"part_time": 10, "retirement": 10}, 20, "other uses do not touch it"),
        (YOUNG, 30, {"training": 25}, 0, "a reserve spent is spent"),
        (YOUNG, -4, {}, 0, "a debt leaves nothing reserved"),
        (MIDDLE, 30, {}, 10, "born 1960-1962: 10"),
        (OLD, 30, {}, 0, "born before 1960: none"),
    ],
)
def test_points_reserved_remaining(
    birth: dt.date, points: int, used: dict[str, int], expected: int, why: str
) -> None:
    assert c2p_points_reserved_remaining(birth, ON, points, used) == expected, why
