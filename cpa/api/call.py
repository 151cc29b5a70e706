"""``call``: what a guarded handler gets of its request, as one dependency.

Every ``/v1`` handler acting for a partner takes ``call: Caller`` — the request with the
principal the token guard verified — and reaches through it the process's shared parts (the
database, the read access log, the NIR vault, the authorization state). One parameter in
place of ``request`` and ``principal``: a handler's signature lists only what its route
takes from the partner (path, query, body, ``Idempotency-Key``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar, cast
from uuid import UUID

import msgspec
from litestar import Request
from litestar.di import NamedDependency

from cpa.api.wire import field_error, field_errors, refused
from cpa.auth.access_log import read_access_log
from cpa.auth.guard import provide_principal
from cpa.auth.principal import Principal
from cpa.auth.state import AuthState
from cpa.db.database import Connection, Database, transaction
from cpa.persons.nir import NirVault
from cpa.provenance import Provenance

S = TypeVar("S", bound=msgspec.Struct)


class Call:
    """One guarded request: who calls (``principal``) and what serves it."""

    __slots__ = ("db", "principal", "request")

    def __init__(self, request: Request[Any, Any, Any], principal: Principal) -> None:
        self.request = request
        self.principal = principal
        self.db: Database = request.app.state.db  # every handler's; the rest read on demand

    @property
    def auth(self) -> AuthState:
        return cast("AuthState", self.request.app.state.auth)

    @property
    def vault(self) -> NirVault:
        return cast("NirVault", self.request.app.state.vault)

    @property
    def person_id(self) -> UUID:
        """The person the token acts for (routes guarded by ``requires()`` with a person)."""
        person_id = self.principal.person_id
        assert person_id is not None, "the guard admits only person tokens on this route"
        return person_id

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return transaction(self.db)

    async def journal_read(
        self, db: Connection, route: str, reader: Principal | None = None
    ) -> None:
        """The read's line in the person's access journal (``reader``: an advisor's view of
        the principal, with its purpose), handed to the process's batch writer."""
        await read_access_log(self.request).record(db, reader or self.principal, route=route)

    def provenance(self, key: str | None) -> Provenance:
        """Who causes a write, as the ledger records it on every entry."""
        principal = self.principal
        return Provenance(
            client_id=principal.client_id, token_jti=principal.jti, idempotency_key=key
        )

    async def strictly(self, data: S) -> S:
        """``data`` decoded again without coercion: Litestar converts JSON bodies leniently
        (``"100"`` becomes ``100``), and an amount of money sent as a string is refused here.
        The body is already in memory; the second decode costs microseconds."""
        body = await self.request.body()
        try:
            return msgspec.json.decode(body, type=type(data), strict=True)
        except msgspec.ValidationError as error:
            errors = field_errors(body, type(data)) or [field_error(error)]
            raise refused(errors, type(data)) from None


Caller = NamedDependency[Call]
"""The handler parameter ``call: Caller``, provided by :func:`provide_call`."""


def provide_call(request: Request[Any, Any, Any]) -> Call:
    """The ``call`` dependency (refused 401 outside the routes the token guard checked)."""
    return Call(request, provide_principal(request))
