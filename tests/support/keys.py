"""Idempotency keys for test clients: every money-moving POST requires one (issue 15 point 3).

:func:`add_idempotency_key` is an httpx request hook that gives such a POST a fresh key when
the test did not set one itself (a test of replays sets its own; the test of the 428 refusal
uses a client without the hook)."""

from __future__ import annotations

import re
import uuid

import httpx

MONEY_MOVING = re.compile(
    r"^/v1/(me/cpf/holds|me/c2p/conversions|me/dossiers|dossiers|financer/dossiers)(/|$)"
)
"""The paths of the POSTs that require a key: holds, their post and void, C2P conversions,
dossier requests and every actor's dossier actions."""


def fresh_key() -> str:
    return f"test-{uuid.uuid4()}"


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with a fresh ``Idempotency-Key``."""
    return {**headers, "Idempotency-Key": fresh_key()}


async def add_idempotency_key(request: httpx.Request) -> None:
    if (
        request.method == "POST"
        and "idempotency-key" not in request.headers
        and MONEY_MOVING.match(request.url.path)
    ):
        request.headers["Idempotency-Key"] = fresh_key()


KEYED_HOOKS = {"request": [add_idempotency_key]}
"""``httpx.AsyncClient(event_hooks=KEYED_HOOKS)``."""
