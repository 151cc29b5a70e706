"""One implementation, proven (issue 14): 500 generated careers credited by the campaign's
chunks, by ``credit_year`` and by the simulation give the same entries, balances and credit
records, and so do their corrections (tests/campaign/test_three_paths.py; ``make test`` runs
two batches of 125 of these careers, this the four)."""

from __future__ import annotations

from tests.campaign.test_three_paths import EXAMPLES, three_paths_agree


def test_500_careers_agree_through_the_three_paths(fresh_dsn: str) -> None:
    three_paths_agree(fresh_dsn, batches=EXAMPLES)
