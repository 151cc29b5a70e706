"""``python -m cpa clients add|list|disable`` and ``python -m cpa keys rotate``.

Results are JSON on standard output (a client secret appears there once, never in a log);
logs go to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from cpa.auth.clients import CLIENT_KINDS, NewClient, disable_client, list_clients, register_client
from cpa.auth.crypto import master_key
from cpa.auth.errors import InvalidClientRegistration
from cpa.auth.keys import encryption_key, rotate_signing_key
from cpa.cli.common import command, command_group, one_shot_database, print_json, with_connection
from cpa.config import Settings
from cpa.db.admin import migrate_database
from cpa.db.pool import _init_connection


def _run(settings: Settings, work: Any) -> Any:
    with one_shot_database(settings) as dsn:

        async def migrated(db: asyncpg.Connection) -> Any:
            await migrate_database(dsn)
            await _init_connection(db)  # jsonb codec: keys and JWKS are jsonb
            return await work(db)

        return asyncio.run(with_connection(dsn, migrated))


def _print(value: Any) -> None:
    print_json(msgspec.to_builtins(value))


def _read_jwks(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        jwks = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as error:
        raise InvalidClientRegistration(f"cannot read the JWKS file: {error}") from error
    if isinstance(jwks, dict) and "keys" not in jwks:
        jwks = {"keys": [jwks]}
    if not isinstance(jwks, dict):
        raise InvalidClientRegistration("the JWKS file holds a JSON object")
    return jwks


def cmd_clients_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewClient(
        name=args.name,
        kind=args.kind,
        redirect_uris=args.redirect_uri or (),
        scopes=args.scope or (),
        jwks=_read_jwks(args.jwks_file),
        client_id=args.client_id,
        rate_limit_per_minute=args.rate_limit_per_minute,
    )
    _print(_run(settings, lambda db: register_client(db, new)))
    return 0


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    _print({"clients": _run(settings, list_clients)})
    return 0


def cmd_clients_disable(args: argparse.Namespace, settings: Settings) -> int:
    _print(_run(settings, lambda db: disable_client(db, args.client_id)))
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    key = encryption_key(master_key(settings.nir_key_path))
    _print(_run(settings, lambda db: rotate_signing_key(db, key)))
    return 0


def register(subparsers: Any) -> None:
    """Add the authorization server's commands to the ``python -m cpa`` parser."""
    clients = command_group(subparsers, "clients", "partner clients of the OAuth server")
    add = command(
        clients, "add", cmd_clients_add, "register a client; prints its id (and secret, once)"
    )
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=CLIENT_KINDS)
    add.add_argument("--redirect-uri", action="append", help="exact redirect URI (repeatable)")
    add.add_argument(
        "--scope", action="append", help="allowed scope (repeatable; default: the kind's)"
    )
    add.add_argument("--jwks-file", help="public JWKS: private_key_jwt instead of a secret")
    add.add_argument("--client-id", help="a chosen client id (default: generated)")
    add.add_argument("--rate-limit-per-minute", type=int, default=6_000)
    command(clients, "list", cmd_clients_list, "every client (no secrets)")
    disable = command(
        clients,
        "disable",
        cmd_clients_disable,
        "disable a client: no more tokens, its tokens refused",
    )
    disable.add_argument("client_id")

    keys = command_group(subparsers, "keys", "access-token signing keys")
    command(keys, "rotate", cmd_keys_rotate, "new current key; the previous one stays served")
