"""Throughput of the CPF yearly accrual: ``python tests/bench/bench_rules.py``.

Runs a realistic mix (full- and part-time employees, independents, ESAT, low-qualified,
disability, plural activity, balances near and far from the ceiling) in one process and prints
accruals per second next to an empty-function-call baseline measured in the same run.
"""

from __future__ import annotations

import random
import time

from cpa.rules.cpf import Activity, PersonYearStatus, cpf_year_accrual

FULL = 160700
ROUNDS = 5
CASES_PER_ROUND = 200_000


def _mix(rng: random.Random, n: int) -> list[tuple[int, list[Activity], PersonYearStatus, int]]:
    statuses = [
        PersonYearStatus(),
        PersonYearStatus(low_qualified=True),
        PersonYearStatus(disability=True),
        PersonYearStatus(low_qualified=True, disability=True),
    ]
    cases = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.55:
            acts = [Activity("employee", FULL)]
        elif roll < 0.80:
            acts = [Activity("employee", rng.randrange(0, FULL))]
        elif roll < 0.90:
            acts = [Activity("independent", months_active=rng.randrange(1, 13))]
        elif roll < 0.95:
            acts = [Activity("esat")]
        else:
            acts = [
                Activity("employee", rng.randrange(0, FULL)),
                Activity("independent", months_active=6),
            ]
        status = statuses[0] if rng.random() < 0.8 else rng.choice(statuses)
        balance = rng.choice([0, rng.randrange(0, 500000), 480000, 500000, 790000])
        cases.append((rng.randrange(2019, 2027), acts, status, balance))
    return cases


def _empty(year: int, acts: list[Activity], status: PersonYearStatus, balance: int) -> None:
    return None


def _rate(func: object, cases: list[tuple[int, list[Activity], PersonYearStatus, int]]) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for year, acts, status, balance in cases:
            func(year, acts, status, balance)  # type: ignore[operator]
        best = max(best, len(cases) / (time.perf_counter() - start))
    return best


def main() -> None:
    cases = _mix(random.Random(2026), CASES_PER_ROUND)
    rate = _rate(cpf_year_accrual, cases)
    baseline = _rate(_empty, cases)
    print(f"cpf_accruals_per_s={rate:,.0f}")
    print(f"empty_calls_per_s={baseline:,.0f}")
    print(f"ratio_to_empty_call={baseline / rate:.1f}x slower")


if __name__ == "__main__":
    main()
