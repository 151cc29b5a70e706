"""The asyncpg connection pool, with the limits named and every connection set up alike.

Every wait on the database is bounded (``Settings``): a connection is opened within
``connect_timeout_ms``, a statement answers within ``command_timeout_ms`` (the server's
``statement_timeout_ms`` first), a pooled connection is handed out within
``pool_acquire_timeout_ms`` (``cpa.db.database.PoolDatabase``). A server may start while
PostgreSQL is down: its pool then starts empty and connects on demand (503 until then).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import structlog

from cpa.config import Settings
from cpa.db.outage import OUTAGE, DatabaseUnreachable, is_outage

log = structlog.get_logger(__name__)


async def _init_connection(connection: asyncpg.Connection) -> None:
    # jsonb travels as msgspec-encoded bytes both ways: no json module on the hot path.
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + msgspec.json.encode(value),
        decoder=lambda data: msgspec.json.decode(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset round trip (``RESET ALL; UNLISTEN *; …``).

    cpa never leaves session state behind on a pooled connection: no LISTEN, no session
    advisory lock, no session-level SET (only ``SET LOCAL`` inside transactions), and asyncpg
    itself rolls back a transaction left open. Measured: the default reset doubled the cost of
    a one-query request.
    """


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg's connect, its network failures named as one error (a plain ``OSError``,
    ``Multiple exceptions: …``, when every address of the host refuses)."""
    began = OUTAGE.started_at
    try:
        connection: asyncpg.Connection = await asyncpg.connect(*args, **kwargs)
    except OSError as error:
        raise DatabaseUnreachable(f"cannot connect: {type(error).__name__}") from error
    OUTAGE.connected(began)
    return connection


async def create_pool(dsn: str, settings: Settings, **overrides: Any) -> asyncpg.Pool:
    options: dict[str, Any] = {
        # Opened at start, never restored in the background: asyncpg's floor keeper logs a
        # traceback per failed retry through the standard library during an outage, and a
        # request reconnects an empty holder by itself anyway.
        "init_size": settings.pool_size_min,
        "min_size": 0,
        "max_size": settings.pool_size_max,
        "connect": _connect,
        "timeout": settings.connect_timeout_ms / 1000,
        "command_timeout": settings.command_timeout_ms / 1000,
        "init": _init_connection,
        "reset": _keep_session,
        "server_settings": {
            "statement_timeout": str(settings.statement_timeout_ms),
            "application_name": "cpa",
            "timezone": "UTC",
        },
    }
    options.update(overrides)
    options["init_size"] = max(options["init_size"], options["min_size"])
    try:
        pool = await asyncpg.create_pool(dsn, **options)
    except Exception as error:
        if not is_outage(error) or options["min_size"]:
            raise
        OUTAGE.begin(error)  # logged once; the pool starts empty and connects on demand
        pool = await asyncpg.create_pool(dsn, **{**options, "init_size": 0})
    assert pool is not None
    return pool
