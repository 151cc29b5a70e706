"""``python -m cpa synth`` (a synthetic population), ``python -m cpa campaign load`` /
``campaign load-persons`` (the bulk intake of the operators' files), ``campaign run`` (worker
processes crediting a year, with a progress bar), ``campaign status`` and ``campaign report``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from cpa.campaign import kind_of, load_declarations, load_persons, parse_years, synthesize
from cpa.campaign.report import record_load
from cpa.cli.campaign_run import register_run
from cpa.cli.common import command, command_group, one_shot_database, print_json, with_connection
from cpa.config import Settings
from cpa.db.admin import migrate_database
from cpa.persons import NirVault


def register(subparsers: Any) -> None:
    """Add the campaign's commands to the ``python -m cpa`` parser."""
    synth_help = "write a synthetic population and its declarations as NDJSON files"
    synth = command(subparsers, "synth", cmd_synth, synth_help)
    synth.add_argument("--persons", type=int, required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--years", type=parse_years, default="2015-2025", help="FIRST-LAST")
    synth.add_argument("--out", type=Path, required=True, help="the directory written")

    campaign = command_group(subparsers, "campaign", "the yearly crediting campaign")
    load_help = "load declaration files of a year (activities*, exposures*, engagements*)"
    load = command(campaign, "load", cmd_load, load_help)
    load.add_argument("--year", type=int, required=True)
    load.add_argument("--today", type=dt.date.fromisoformat, default=None)
    _files(load, "rejects-{year}.ndjson")
    persons_help = "register the persons of NDJSON files ({nir, birth_date} lines)"
    _files(command(campaign, "load-persons", cmd_load_persons, persons_help), "rejects.ndjson")
    register_run(campaign)


def _files(parser: argparse.ArgumentParser, rejects: str) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--rejects", type=Path, default=None, help=f"the rejects file (default: {rejects})"
    )


def cmd_synth(args: argparse.Namespace, settings: Settings) -> int:
    print_json(synthesize(args.persons, args.seed, args.years, args.out))
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    for path in args.files:
        kind_of(path)  # a file of no known kind refused before touching any database
    vault = NirVault.from_key_file(settings.nir_key_path)
    rejects = args.rejects or Path(f"rejects-{args.year}.ndjson")
    today = args.today or dt.date.today()

    async def load(db: asyncpg.Connection, dsn: str) -> Any:
        lookup = await asyncpg.connect(dsn)  # the persons' lookups run beside the writes
        try:
            report = await load_declarations(
                db, args.year, args.files, today=today, vault=vault, rejects_path=rejects,
                lookup=lookup,
            )  # fmt: skip
        finally:
            await lookup.close()
        await record_load(db, args.year, "declarations", report)
        return report

    print_json(_run(settings, load))
    return 0


def cmd_load_persons(args: argparse.Namespace, settings: Settings) -> int:
    vault = NirVault.from_key_file(settings.nir_key_path)
    rejects = args.rejects or Path("rejects.ndjson")

    async def load(db: asyncpg.Connection, dsn: str) -> Any:
        report = await load_persons(db, args.files, vault=vault, rejects_path=rejects)
        await record_load(db, None, "persons", report)
        return report

    print_json(_run(settings, load))
    return 0


def _run(settings: Settings, load: Callable[[asyncpg.Connection, str], Awaitable[Any]]) -> Any:
    with one_shot_database(settings) as dsn:
        asyncio.run(migrate_database(dsn))
        return asyncio.run(with_connection(dsn, lambda db: load(db, dsn)))
