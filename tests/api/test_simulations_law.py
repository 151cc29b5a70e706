"""POST /v1/simulations and `python -m cpa simulate` apply issue 12's law fixes (one rules code):
noise is one C2P factor whichever of its criteria is met (CT L4163-1, D4163-2 2° c), and the
réserve civique and the réserves citoyennes earn CEC rights only for activities from 2018
(décret 2017-1058)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.test_simulations import _cli, _post, _raw

ENGAGEMENTS = [
    {"year": 2017, "activity": "civic_reserve", "hours": 200, "hours_in_one_organisation": 100},
    {"year": 2017, "activity": "education_citizen_reserve", "years": 1, "interventions": 25},
    {"year": 2017, "activity": "volunteer_firefighter", "years": 5},
    {"year": 2018, "activity": "civic_reserve", "hours": 200, "hours_in_one_organisation": 100},
    {"year": 2018, "activity": "police_citizen_reserve", "years": 3, "hours": 350},
]
SCENARIO: dict[str, Any] = {
    "as_of": "2026-11-25",
    "person": {"birth_date": "1980-05-01"},
    "exposures": [
        {"year": y, "contract_start": f"{y}-01-01", "contract_end": f"{y}-12-31",
         "factors": {"noise_daily": 600, "noise_peak": 120}}
        for y in (2022, 2024)
    ],
    "engagements": ENGAGEMENTS,
}  # fmt: skip


def _accruals(entries: list[dict[str, Any]], unit: str) -> dict[int, int]:
    return {e["year"]: e[unit] for e in entries if e["kind"] == "accrual"}


async def test_noise_once_and_reserves_from_2018(client: httpx.AsyncClient) -> None:
    raw = _raw(SCENARIO)
    response = await _post(client, raw)
    assert response.status_code == 200, response.text
    status, stdout, _ = await _cli(raw)
    assert status == 0 and json.loads(stdout) == response.json()
    rights = response.json()
    # Both noise criteria: one factor, 4 points a year (1 per quarter), before and after 2023.
    assert _accruals(rights["c2p"]["entries"], "points") == {2022: 4, 2024: 4}
    assert rights["c2p"]["points"] == 8
    # 2017: only the sapeur-pompier counts (20 h); 2018: réserve civique and réserve citoyenne
    # de la police nationale (40 h); 60 h converted at 12 € on 2019-01-01.
    cec = _accruals(rights["cec"]["entries"], "hours")
    assert cec == {2017: 20, 2018: 40}
    note = next(e["note"] for e in rights["cec"]["entries"] if e.get("year") == 2017)
    assert "civic_reserve" in note and "education_citizen_reserve" in note
    assert rights["cec"]["balance_cents"] == 60 * 1200
