"""The commands that run and fill the service: serve, migrate, db, persons, demo, simulate,
openapi."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
from typing import Any

import asyncpg
import msgspec

from cpa.cli.common import (
    command,
    command_group,
    database_dsn,
    embedded,
    one_shot_database,
    print_json,
    with_connection,
)
from cpa.config import Settings, get_settings
from cpa.db.admin import migrate_database
from cpa.db.embedded import EmbeddedPostgres
from cpa.demo import demo_credentials, demo_loaded, load_demo, loading_marker
from cpa.persons import NewPerson, NirVault, normalise_nir, register_person
from cpa.simulation.service import simulate_json


def _print_demo_credentials(credentials: dict[str, Any]) -> None:
    """Shown once, when the demo set is loaded: the partners' and citizens' credentials."""
    lines = ["", "Demo data loaded. Credentials (demo only):", ""]
    for client in credentials["clients"]:
        lines.append(
            f"  client {client['kind']:<14} id={client['client_id']:<20} "
            f"secret={client['client_secret']}"
        )
    for person in credentials["persons"]:
        lines.append(f"  citizen NIR={person['nir']}  password={person['password']}")
    lines += [f"  OAuth metadata: {credentials['metadata']}",
              f"  Demo partner page (the authorization-code flow in a browser): "
              f"{credentials['demo_page']}",
              "  Shown again by: python -m cpa demo --credentials", ""]  # fmt: skip
    sys.stderr.write("\n".join(lines) + "\n")


# -- commands ---------------------------------------------------------------------------


WATCHDOG_STOP_TIMEOUT_S = 100
"""Longer than a PostgreSQL restart the watchdog may be in the middle of (``pg_ctl -t 60``)
and the end of a demo load it waits for (30 s at most)."""


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: granian is needed by this command only (the others start faster).
    from cpa.server import APP_FACTORY, build_server

    dsn, pg = database_dsn(settings)
    watchdog = None
    try:
        asyncio.run(migrate_database(dsn))
        # Create the NIR key once, before the workers (and the demo loader) all read it.
        NirVault.from_key_file(settings.nir_key_path)
        # The workers read their settings afresh, the embedded server's DSN included.
        os.environ["CPA_DATABASE_URL"] = dsn
        get_settings.cache_clear()
        demo = not args.no_demo
        _mark_demo_loading(settings, loading=demo)
        watchdog = _start_watchdog(settings, pg, demo=demo)
        build_server(settings, DEMO_APP_FACTORY if demo else APP_FACTORY).serve()
    finally:
        if watchdog is not None:
            _stop_watchdog(watchdog)
        if pg is not None:
            pg.stop()
    return 0


DEMO_APP_FACTORY = "cpa.demo.app:create_demo_app"
"""The app in demo mode: the API plus the demo partner page, ready once the demo set is in."""


def _mark_demo_loading(settings: Settings, *, loading: bool) -> None:
    """Written before the workers start, so that readiness waits for the demo loader (which
    removes it at its end, and the watchdog when it reaps the loader); without the demo, a
    marker left by a killed run is removed."""
    marker = loading_marker(settings)
    if loading:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{os.getpid()}\n")
    else:
        marker.unlink(missing_ok=True)


def _start_watchdog(
    settings: Settings, pg: EmbeddedPostgres | None, *, demo: bool
) -> subprocess.Popen[bytes] | None:
    """The process (``cpa.db.watchdog``) that restarts the embedded PostgreSQL when it dies and
    loads the demo set while the workers boot (both take about a second; in demo mode the
    service is ready once the loader has ended, loaded or not: the watchdog removes the
    loading marker when it reaps it), reaping the loader as soon as it ends.

    The embedded server is watched whether this run started it or found it running on our data
    directory: either way it is ours, and this run stops it on exit. A server given by
    CPA_DATABASE_URL is never watched."""
    argv = [sys.executable, "-m", "cpa.db.watchdog", "--parent", str(os.getpid())]
    if pg is not None:
        argv += ["--pgdata", str(settings.pgdata), "--pg-port", str(settings.pg_port),
                 "--pg-cache", str(settings.data_dir / "pgbin")]  # fmt: skip
    if demo:
        argv += ["--ready-marker", str(loading_marker(settings))]
        argv += ["--", sys.executable, "-m", "cpa", "demo", "--announce"]
    if pg is None and not demo:
        return None
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)


def _stop_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    watchdog.terminate()
    try:
        watchdog.wait(WATCHDOG_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with one_shot_database(settings) as dsn:
        applied = asyncio.run(migrate_database(dsn))
    print_json({"applied": applied})
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url:
        print_json({"database_url": "set by CPA_DATABASE_URL", "embedded": False})
        return 0
    pg = embedded(settings)
    if args.action == "stop":
        pg.stop()
        print_json({"running": False})
        return 0
    dsn, _ = database_dsn(settings)
    print_json({"running": True, "dsn": dsn, "binaries": pg.binaries.origin})
    return 0


def cmd_persons_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewPerson(
        nir=args.nir,
        birth_date=args.birth_date,
        death_on=args.death_on,
        full_rate_retirement_on=args.full_rate_retirement_on,
    )
    normalise_nir(new.nir)  # refuse a bad NIR before touching any database
    vault = NirVault.from_key_file(settings.nir_key_path)
    with one_shot_database(settings) as dsn:

        async def work(db: asyncpg.Connection) -> Any:
            await migrate_database(dsn)
            return await register_person(db, vault, new)

        person = asyncio.run(with_connection(dsn, work))
    print_json(person)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.credentials:
        return _show_demo_credentials(settings)
    try:
        credentials = _load_demo(settings)
    finally:
        if args.announce:  # the loader `cpa serve` runs: the service may now say it is ready
            loading_marker(settings).unlink(missing_ok=True)
    if args.announce:
        if credentials:
            _print_demo_credentials(credentials)
        return 0
    print_json({"loaded": credentials is not None, "credentials": credentials})
    return 0


def _load_demo(settings: Settings) -> dict[str, Any] | None:
    vault = NirVault.from_key_file(settings.nir_key_path)
    with one_shot_database(settings) as dsn:
        asyncio.run(migrate_database(dsn))
        return asyncio.run(with_connection(dsn, lambda db: load_demo(db, vault, settings)))


def _show_demo_credentials(settings: Settings) -> int:
    """The credentials again (they are fixed), and whether this database holds them."""
    vault = NirVault.from_key_file(settings.nir_key_path)
    with one_shot_database(settings) as dsn:
        asyncio.run(migrate_database(dsn))
        loaded = asyncio.run(with_connection(dsn, lambda db: demo_loaded(db, vault, settings)))
    print_json({"in_database": loaded, "credentials": demo_credentials(settings)})
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.buffer.write(simulate_json(sys.stdin.buffer.read()) + b"\n")
    return 0


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the web framework is needed by this command only.
    from cpa.app import create_app

    schema = _headers_by_name(create_app(settings).openapi_schema.to_schema())
    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n")
    return 0


def _headers_by_name(schema: dict[str, Any]) -> dict[str, Any]:
    """The response headers of each response sorted by name: Litestar gathers a route's
    documented headers in a frozenset, whose order changes from one process to the next
    (string hashing), and the committed spec must come out byte for byte the same."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                if "headers" in response:
                    response["headers"] = dict(sorted(response["headers"].items()))
    return schema


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def register(commands: Any) -> None:
    """Add these commands to the ``python -m cpa`` parser."""
    serve = command(
        commands, "serve", cmd_serve, "run the HTTP API (embedded PostgreSQL if needed)"
    )
    serve.add_argument("--no-demo", action="store_true", help="do not load the demo data set")
    command(commands, "migrate", cmd_migrate, "apply pending migrations")
    db = command(commands, "db", cmd_db, "start or stop the embedded PostgreSQL")
    db.add_argument("action", choices=["start", "stop"])

    persons = command_group(commands, "persons", "the persons registry")
    add = command(persons, "add", cmd_persons_add, "register a person; prints it as JSON")
    add.add_argument("--nir", required=True, help="15 characters, control key included")
    add.add_argument("--birth-date", required=True, type=_date)
    add.add_argument("--death-on", type=_date)
    add.add_argument("--full-rate-retirement-on", type=_date)

    demo = command(commands, "demo", cmd_demo, "load the demo data set into an empty database")
    shown = demo.add_mutually_exclusive_group()
    shown.add_argument(
        "--announce",
        action="store_true",
        help="the run `cpa serve` makes: print the credentials for people, on stderr",
    )
    shown.add_argument(
        "--credentials",
        action="store_true",
        help="print the demo credentials again (JSON), and whether this database holds them",
    )
    simulate_help = "scenario JSON on stdin -> rights JSON on stdout (no database)"
    command(commands, "simulate", cmd_simulate, simulate_help)
    command(commands, "openapi", cmd_openapi, "print the OpenAPI document of the app")
