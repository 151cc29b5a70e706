"""``python -m cpa …``: serve, migrate, persons, demo, simulate.

Results go to standard output as JSON; logs go to standard error. An operating error is
printed as an RFC 9457 problem on standard error with exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys

import msgspec

from cpa.cli import auth, campaign, commands, ledger
from cpa.cli.common import DatabaseNotReached
from cpa.config import get_settings
from cpa.db.outage import is_outage
from cpa.errors import CpaError
from cpa.log import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cpa", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register(subparsers)
    auth.register(subparsers)
    ledger.register(subparsers)
    campaign.register(subparsers)
    return parser


def _problem_exit(error: CpaError) -> int:
    sys.stderr.buffer.write(msgspec.json.encode(error.to_problem()) + b"\n")
    sys.stderr.flush()
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_format, stream=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        result: int = args.run(args, settings)
        return result
    except CpaError as error:
        return _problem_exit(error)
    except Exception as error:
        if not is_outage(error):
            raise
        where = (settings.database_url and "CPA_DATABASE_URL") or f"port {settings.pg_port}"
        return _problem_exit(DatabaseNotReached(f"{type(error).__name__} on {where}"))


if __name__ == "__main__":
    sys.exit(main())
