"""A year's campaign watched and signed: ``campaign_status`` (chunks done, leased, waiting;
persons and amounts so far; errors) and ``campaign_report`` (every pass's figures added up,
checked against the ledger's own totals), and the loads' counts kept for that report."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from cpa.campaign.intake import IntakeReport
from cpa.campaign.models import (
    CampaignReport,
    CampaignStatus,
    ChunkStats,
    LedgerCheck,
    PassFigures,
)
from cpa.db.database import Connection
from cpa.db.queries import sql

_stats = msgspec.json.Decoder(ChunkStats)
EURO_POTS = ("cpf_statutory", "cec")


async def record_load(db: Connection, year: int | None, kind: str, report: IntakeReport) -> None:
    """Keep what a bulk load did (its rejects by problem type) for the year's report."""
    by_type = msgspec.json.encode(report.rejected_by_type).decode()
    await db.execute(sql("insert_campaign_load"), year, kind, report.files, report.lines,
                     report.stored, report.rejected, by_type, report.seconds)  # fmt: skip


def _sum(chunks: list[Any]) -> ChunkStats:
    total = ChunkStats()
    for chunk in chunks:
        if chunk["stats"] is not None:
            total.add(_stats.decode(chunk["stats"]))
    return total


def euros(cents: int) -> str:
    """Cents as euros, for people: ``1234567`` → ``12,345.67 €``."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d} €"


async def campaign_status(db: Connection, year: int) -> CampaignStatus | None:
    """Where the year's latest pass stands; None when no pass was ever opened."""
    latest = await db.fetchrow(sql("get_campaign_pass"), year)
    if latest is None:
        return None
    number = latest["pass"]
    current = [c for c in await db.fetch(sql("list_campaign_chunks"), year) if c["pass"] == number]
    by_status: dict[str, int] = {"done": 0, "leased": 0, "waiting": 0, "failed": 0}
    for chunk in current:
        by_status[chunk["status"]] += 1
    stats = _sum(current)
    credited = sum(stats.accrued.get(p, 0) + stats.adjusted_amounts.get(p, 0) for p in EURO_POTS)
    errors = [
        {"pass": c["pass"], "chunk": c["chunk_no"], "status": c["status"],
         "attempts": c["attempts"], "error": c["last_error"]}
        for c in current if c["last_error"] is not None
    ]  # fmt: skip
    return CampaignStatus(
        year=year, pass_=number, credited_on=latest["credited_on"].isoformat(), chunks=by_status,
        persons_planned=sum(c["persons_planned"] for c in current), persons_done=stats.persons,
        accrued=stats.accrued, adjusted=stats.adjusted_amounts, euros_credited=euros(credited),
        errors=errors,
    )  # fmt: skip


async def campaign_report(db: Connection, year: int) -> CampaignReport | None:
    """The year's campaign added up over its passes, its totals checked against the ledger's;
    None when no pass was ever opened."""
    latest = await db.fetchrow(sql("get_campaign_pass"), year)
    if latest is None:
        return None
    chunks = await db.fetch(sql("list_campaign_chunks"), year)
    total = _sum(chunks)
    latest_pass = _sum([c for c in chunks if c["pass"] == latest["pass"]])
    rejects = {
        row["type"]: row["lines"] for row in await db.fetch(sql("list_campaign_rejects"), year)
    }
    return CampaignReport(
        year=year, passes=_passes(chunks), persons_credited=total.credited,
        persons_by_category=dict(sorted(total.categories.items())),
        persons_adjusted=total.adjusted, credited=total.accrued,
        adjustments=total.adjusted_amounts, adjustment_entries=total.entries.get("adjustment", 0),
        converted=total.converted, persons_at_ceiling=total.capped, cut_by_ceiling=total.cut,
        persons_owing=latest_pass.owing, debts=latest_pass.debts, rejects_by_type=rejects,
        check=await _check(db, year, total),
    )  # fmt: skip


def _passes(chunks: list[Any]) -> list[PassFigures]:
    by_pass: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunks:
        by_pass[chunk["pass"]].append(chunk)
    figures = []
    for number, rows in by_pass.items():
        done = [r for r in rows if r["done_at"] is not None]
        total = _sum(rows)
        persons = total.persons
        seconds = 0.0
        if done:
            started = min(r["started_at"] for r in done)
            seconds = (max(r["done_at"] for r in done) - started).total_seconds()
        figures.append(PassFigures(
            number=number, chunks=len(rows), chunks_done=len(done), persons=persons,
            seconds=round(seconds, 3), persons_per_s=int(persons / seconds) if seconds else 0,
            worker_seconds={phase: ms / 1000 for phase, ms in total.ms.items()},
        ))  # fmt: skip
    return figures


async def _check(db: Connection, year: int, total: ChunkStats) -> LedgerCheck:
    """The report's sums and counts against the ledger's entries and credit records."""
    ledger: dict[str, dict[str, int]] = defaultdict(dict)
    counts: dict[str, int] = defaultdict(int)
    for row in await db.fetch(sql("list_ledger_year_totals"), year):
        ledger[row["pot"]][row["kind"]] = row["amount"]
        counts[row["kind"]] += row["entries"]
    mine = {"accrual": total.accrued, "adjustment": total.adjusted_amounts}
    mismatches = []
    for kind, sums in mine.items():
        for pot in sorted(set(sums) | {p for p, k in ledger.items() if kind in k}):
            theirs = ledger.get(pot, {}).get(kind, 0)
            if sums.get(pot, 0) != theirs:
                mismatches.append(f"{kind} {pot}: report {sums.get(pot, 0)}, ledger {theirs}")
        if total.entries.get(kind, 0) != counts[kind]:
            mismatches.append(
                f"{kind} entries: report {total.entries.get(kind, 0)}, ledger {counts[kind]}"
            )
    credited = await db.fetchval(sql("count_year_credited"), year)
    if credited != total.credited:
        mismatches.append(f"persons credited: report {total.credited}, ledger {credited}")
    return LedgerCheck(agrees=not mismatches, ledger=dict(ledger), mismatches=mismatches)
