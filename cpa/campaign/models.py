"""The campaign's figures: what a chunk credited, a year's status and its signed report.

Amounts are in their pot's unit (cents for ``cpf_statutory`` and ``cec``, hours for the
2015–2018 stocks, points for ``c2p``), keyed by pot.
"""

from __future__ import annotations

import msgspec


class ChunkStats(msgspec.Struct, kw_only=True):
    """What crediting one chunk did (kept with the chunk; the report adds them up).

    ``credited``: persons given a first credit for the year (by ``categories``, several per
    person); ``adjusted``: persons whose corrected declaration posted an adjustment;
    ``unchanged``: persons with nothing to write. ``accrued`` / ``adjusted_amounts`` /
    ``converted``: the entries' sums per pot; ``entries``: their count per kind. ``capped``:
    credits cut by their ceiling per pot, and ``cut`` what the ceiling took. ``owing``:
    persons left with a debt (a negative balance), ``debts`` its sum per pot. ``ms``: where
    the chunk's time went (reading and locking, planning in Python, writing), milliseconds.
    """

    persons: int = 0
    credited: int = 0
    adjusted: int = 0
    unchanged: int = 0
    categories: dict[str, int] = msgspec.field(default_factory=dict)
    accrued: dict[str, int] = msgspec.field(default_factory=dict)
    adjusted_amounts: dict[str, int] = msgspec.field(default_factory=dict)
    converted: dict[str, int] = msgspec.field(default_factory=dict)
    entries: dict[str, int] = msgspec.field(default_factory=dict)
    capped: dict[str, int] = msgspec.field(default_factory=dict)
    cut: dict[str, int] = msgspec.field(default_factory=dict)
    owing: int = 0
    debts: dict[str, int] = msgspec.field(default_factory=dict)
    ms: dict[str, int] = msgspec.field(default_factory=dict)

    def add(self, other: ChunkStats) -> None:
        """Add ``other``'s figures to these."""
        for field in self.__struct_fields__:
            mine, theirs = getattr(self, field), getattr(other, field)
            if isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            else:
                setattr(self, field, mine + theirs)


class CampaignStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where a year's campaign stands (its latest pass): chunks by status, persons and the
    amounts credited so far, the chunks' errors."""

    year: int
    pass_: int = msgspec.field(name="pass")
    credited_on: str
    chunks: dict[str, int]
    persons_planned: int
    persons_done: int
    accrued: dict[str, int]
    adjusted: dict[str, int]
    euros_credited: str
    errors: list[dict[str, object]]


class PassFigures(msgspec.Struct, frozen=True, kw_only=True):
    """One pass: its chunks, the persons it read, from its first lease to its last commit."""

    number: int
    chunks: int
    chunks_done: int
    persons: int
    seconds: float
    persons_per_s: int
    worker_seconds: dict[str, float]  # summed over the chunks: read, plan, write


class LedgerCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The report's totals against the ledger's: per pot and kind (accrual, adjustment), the
    entries and their sum on each side, and the persons with a credit record for the year."""

    agrees: bool
    ledger: dict[str, dict[str, int]]
    mismatches: list[str]


class CampaignReport(msgspec.Struct, frozen=True, kw_only=True):
    """A year's campaign, every pass added up (amounts per pot, in the pot's unit)."""

    year: int
    passes: list[PassFigures]
    persons_credited: int
    persons_by_category: dict[str, int]
    persons_adjusted: int
    credited: dict[str, int]
    adjustments: dict[str, int]
    adjustment_entries: int
    converted: dict[str, int]
    persons_at_ceiling: dict[str, int]
    cut_by_ceiling: dict[str, int]
    persons_owing: int
    debts: dict[str, int]
    rejects_by_type: dict[str, int]
    check: LedgerCheck
