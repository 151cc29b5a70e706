"""Issue 12 law fixes reach real accounts and simulations through the one yearly orchestration:
noise is one C2P factor (CT L4163-1, D4163-2 2° c), and the réserve civique counts for the CEC
only for activities from 2018-01-01 (décret 2017-1058).

The career below is declared for a real person and credited year by year on the campaign day;
the ledger's entries are the hand-computed ones, and the simulation of the same career agrees.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from cpa.simulation import decode_scenario, simulate
from tests.ledger.test_simulation_agrees import (
    AS_OF,
    _ledger_accruals,
    _simulated_accruals,
    credited_entries,
)

CIVIC = {"activity": "civic_reserve", "hours": 200, "hours_in_one_organisation": 100}
NOISE = {"noise_daily": 600, "noise_peak": 120}


def _exposure(year: int, **factors: int) -> dict[str, Any]:
    return {"year": year, "contract_start": f"{year}-01-01", "contract_end": f"{year}-12-31",
            "factors": factors}  # fmt: skip


CAREER: dict[str, Any] = {
    "person": {"birth_date": "1980-05-01"},
    "exposures": [
        _exposure(2016, **NOISE),  # noise from 2016-07-01: 6 months, 2 periods, one factor
        _exposure(2022, **NOISE),  # both criteria, one factor: 4 points (not 8, poly)
        _exposure(2024, **NOISE, night_work=100),  # two factors from 2023-09-01: 4 + 4
    ],
    "engagements": [
        {"year": 2017, **CIVIC},  # réserve civique: not for activities of 2017
        {"year": 2018, **CIVIC},  # from 2018-01-01: 20 h
        {"year": 2019, **CIVIC},  # 240 €
    ],
}
# (account, year, amount, rule id): hours for the CEC of 2018, cents from 2019, C2P points.
EXPECTED = {
    ("c2p", 2016, 2, "c2p.points.mono_per_quarter"): 1,
    ("c2p", 2022, 4, "c2p.points.mono_per_quarter"): 1,
    ("c2p", 2024, 8, "c2p.points.per_quarter"): 1,
    ("cec", 2018, 20, "cec.h.per_activity"): 1,
    ("cec", 2019, 24000, "cec.eur.per_activity"): 1,
}


async def test_crediting_and_simulation_apply_the_corrections(db: asyncpg.Connection) -> None:
    scenario = decode_scenario(msgspec.json.encode({"as_of": AS_OF, **CAREER}))
    person_id, entries = await credited_entries(db, scenario)
    assert _ledger_accruals(entries) == EXPECTED
    assert _simulated_accruals(simulate(scenario)) == EXPECTED
    balances = dict(
        await db.fetch("select pot, balance from ledger_balances where person_id = $1", person_id)
    )
    assert balances["c2p"] == 14
    assert balances["cec"] == 20 * 1200 + 24000  # 20 h converted at 12 €, then 240 €
