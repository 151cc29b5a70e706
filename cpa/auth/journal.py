"""The access journal: every read or change of a person's data by a partner, for the person.

Append inside the handler's own transaction, with the connection it already holds (one
``insert`` of a few columns: no extra round trip to open a connection, and the entry exists
exactly when the access committed)::

    async with transaction(request.app.state.db) as db:
        account = await load_account(db, principal.person_id)
        await record_access(db, principal, route="/v1/me/account")
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

import msgspec

from cpa.auth.principal import Principal
from cpa.db.database import Connection
from cpa.db.queries import sql

Action = Literal["read", "change", "lookup"]


class AccessEntry(msgspec.Struct, kw_only=True):
    id: int
    occurred_at: dt.datetime
    client_id: str
    client_kind: str
    client_name: str
    advisor_id: str | None
    purpose: str | None
    action: str
    route: str


async def record_access(
    db: Connection,
    principal: Principal,
    *,
    route: str,
    action: Action = "read",
    person_id: UUID | None = None,
) -> None:
    """Append one access by ``principal`` to the journal of the person it touched.

    ``person_id`` defaults to the token's person; advisor routes pass the looked-up person
    (the advisor id and purpose then come from the principal's advisor access).
    """
    person = person_id or principal.person_id
    assert person is not None, "an access journal entry names the person whose data was touched"
    await db.execute(
        sql("insert_access_journal_entry"),
        person,
        principal.client_id,
        principal.client_kind,
        principal.client_name,
        principal.advisor_id,
        principal.purpose,
        action,
        route,
    )


async def list_access(
    db: Connection, person_id: UUID, *, before_id: int, limit: int
) -> list[AccessEntry]:
    rows = await db.fetch(sql("list_access_journal"), person_id, before_id, limit)
    return [AccessEntry(**dict(row)) for row in rows]
