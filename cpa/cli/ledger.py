"""``python -m cpa credit --year N``, ``python -m cpa ledger verify`` and ``ledger expire``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

import asyncpg
import msgspec

from cpa.cli.common import command, command_group, on_one_connection, one_shot_database, print_json
from cpa.config import Settings
from cpa.db.admin import migrate_database
from cpa.db.database import ConnectionDatabase
from cpa.ledger.crediting import credit_all
from cpa.ledger.entries import verify_ledger
from cpa.ledger.sweep import sweep_lapsed_holds


def register(subparsers: Any) -> None:
    """Add the ledger's commands to the ``python -m cpa`` parser."""
    credit = command(
        subparsers,
        "credit",
        cmd_credit,
        "credit everyone with declarations for a year (idempotent, crash-safe)",
    )
    credit.add_argument("--year", type=int, required=True)
    credit.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="the campaign date (default: today)",
    )
    ledger = command_group(subparsers, "ledger", "ledger checks")
    verify_help = "prove every balance equals the sum of its entries (exit 1 if not)"
    command(ledger, "verify", cmd_verify, verify_help)
    expire_help = "release the holds past their expiry now (the server sweeps them too)"
    command(ledger, "expire", cmd_expire, expire_help)


def cmd_credit(args: argparse.Namespace, settings: Settings) -> int:
    today = args.today or dt.date.today()
    with one_shot_database(settings) as dsn:
        asyncio.run(migrate_database(dsn))
        report = asyncio.run(credit_all(dsn, args.year, today=today))
    print_json(report)
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    report = on_one_connection(settings, verify_ledger)
    print_json({"ok": report.ok, **msgspec.structs.asdict(report)})
    return 0 if report.ok else 1


def cmd_expire(args: argparse.Namespace, settings: Settings) -> int:
    async def expire(db: asyncpg.Connection) -> int:
        return await sweep_lapsed_holds(ConnectionDatabase(db), dt.datetime.now(dt.UTC))

    released = on_one_connection(settings, expire)
    print_json({"released": released})
    return 0
