"""The aggregated account, its entries and why each is there: for the person's partners on
``/v1/me/…`` and for advisors on ``/v1/advisor/persons/{ref}/…`` (with a declared purpose).

Scopes are data masks: a section of the account, or an entry's pot, is shown only with its
scope (``cpf:read``, ``cec:read``, ``c2p:read``, ``services:read``); ``account:read`` alone
shows that the account exists, when it was last credited and nothing else. A token with none
of these scopes is refused. Advisors see every section: their access is bounded by the purpose
they declared at lookup and written to the person's access journal, like every read here.

The account is read in one SQL round trip (``get_account``); each read hands its journal line
to the process's batch writer (:class:`~cpa.auth.access_log.ReadAccessLog`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from cpa.api.advisor import ADVISOR
from cpa.api.call import Call, Caller
from cpa.api.documented import doc
from cpa.auth.advisor import resolve_person_ref
from cpa.auth.errors import InsufficientScope, PersonRefNotFound
from cpa.auth.guard import requires
from cpa.auth.principal import Principal
from cpa.db.database import Connection
from cpa.ledger import explain_entry, get_account, list_entries
from cpa.ledger.account import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, visible_pots
from cpa.ledger.errors import EntryNotFound, InvalidCursor
from cpa.ledger.models import (
    Account,
    C2pView,
    CecView,
    CpfView,
    EntryExplanation,
    EntryFilter,
    EntryKind,
    EntryPage,
    LinkedServiceView,
    Pot,
)
from cpa.scopes import Scope

READ_SCOPES: frozenset[Scope] = frozenset(
    {"account:read", "cpf:read", "cec:read", "c2p:read", "services:read"}
)
ADVISOR_SCOPES = READ_SCOPES
"""What an advisor sees of the person they looked up: the whole account."""


class AccountView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The whole account in one call; a section is absent when the token's scopes hide it.

    Amounts: ``*_cents`` are euro cents, ``*points*`` are C2P points.
    """

    as_of: dt.datetime
    sub: str | None = None
    """The person, as this client knows them (absent on advisor routes)."""
    last_credited_on: dt.date | None = None
    cpf: CpfView | None = None
    cec: CecView | None = None
    c2p: C2pView | None = None
    services: list[LinkedServiceView] | None = None


def account_view(account: Account, sub: str | None) -> AccountView:
    """The wire form: the internal person id stays inside (clients know a pairwise ``sub``)."""
    return AccountView(
        as_of=account.as_of,
        sub=sub,
        last_credited_on=account.last_credited_on,
        cpf=account.cpf,
        cec=account.cec,
        c2p=account.c2p,
        services=account.services,
    )


def _readable(principal: Principal) -> frozenset[str]:
    granted = principal.scopes & READ_SCOPES
    if not granted:
        raise InsufficientScope(
            f"reading the account needs one of: {' '.join(sorted(READ_SCOPES))}"
        )
    return granted


# Query parameters shared by both entry listings.
ROW_ID_MAX = 2**53 - 1
"""Row ids are PostgreSQL bigints, far below this; a larger number names no row (past 2**63
the driver refuses it). 2**53 - 1 rather than the bigint's own maximum: the largest integer
every JSON reader holds exactly (the spec renders bounds as JSON numbers, 2**63 - 1 as
9.223372036854776e18, which is 2**63)."""
EntryIdParam = Annotated[int, Parameter(ge=1, le=ROW_ID_MAX, description="the entry's id")]
PotParam = Annotated[Pot | None, Parameter(description="only this pot")]
KindParam = Annotated[EntryKind | None, Parameter(description="only this kind of entry")]
FromParam = Annotated[dt.date | None, Parameter(description="effective on or after this date")]
UntilParam = Annotated[dt.date | None, Parameter(description="effective on or before this date")]
CursorParam = Annotated[
    str | None, Parameter(max_length=64, description="``next_cursor`` of the previous page")
]
LimitParam = Annotated[int, Parameter(ge=1, le=PAGE_SIZE_MAX, description="page size")]


class EntryQuery(msgspec.Struct, frozen=True):
    """The query of an entry listing: which entries, and which page of them."""

    filters: EntryFilter
    cursor: str | None
    limit: int

    def seen_with(self, scopes: frozenset[str]) -> EntryQuery:
        """This query, refused when it asks for a pot the token's scopes hide."""
        pot = self.filters.pot
        if pot is not None and pot not in visible_pots(scopes):
            raise InsufficientScope(f"the token's scopes do not show the {pot} pot")
        return self


def _entry_query(
    call: Caller,
    pot: PotParam = None,
    kind: KindParam = None,
    effective_from: FromParam = None,
    effective_until: UntilParam = None,
    cursor: CursorParam = None,
    limit: LimitParam = PAGE_SIZE_DEFAULT,
) -> EntryQuery:
    """The ``listing`` dependency of both entry listings (their query parameters), resolved
    after ``call`` (see :func:`cpa.api.writes.provide_money_key`: not in a task group)."""
    del call  # only orders the resolution
    filters = EntryFilter(
        pot=pot, kind=kind, effective_from=effective_from, effective_until=effective_until
    )
    return EntryQuery(filters, cursor, limit)


_ENTRY_QUERY = {"listing": Provide(_entry_query, sync_to_thread=False)}


async def _account(
    call: Call, db: Connection, reader: Principal, scopes: frozenset[str], route: str
) -> AccountView:
    """The account ``reader`` may see (``reader``: the caller, or an advisor's view of the
    person looked up), and the read's journal line. ``sub`` only for the person's partner."""
    now = dt.datetime.now(dt.UTC)
    account = await get_account(db, _person_of(reader), scopes, now=now)
    await call.journal_read(db, route, reader)
    return account_view(account, None if reader.advisor_id else reader.sub)


async def _entries(
    call: Call,
    db: Connection,
    reader: Principal,
    scopes: frozenset[str],
    route: str,
    query: EntryQuery,
) -> EntryPage:
    found = await list_entries(
        db,
        _person_of(reader),
        scopes,
        filters=query.filters,
        cursor=query.cursor,
        limit=query.limit,
        viewer=reader.client_id,
    )
    await call.journal_read(db, route, reader)
    return found


async def _explanation(
    call: Call,
    db: Connection,
    reader: Principal,
    scopes: frozenset[str],
    route: str,
    entry_id: int,
) -> EntryExplanation:
    explanation = await explain_entry(
        db, _person_of(reader), entry_id, scopes, viewer=reader.client_id
    )
    await call.journal_read(db, route, reader)
    declaration = explanation.declaration
    if declaration is None or "person_id" not in declaration.body:
        return explanation
    # The declaration as sent names the person by internal id: clients never see that id.
    body = {k: v for k, v in declaration.body.items() if k != "person_id"}
    return msgspec.structs.replace(
        explanation, declaration=msgspec.structs.replace(declaration, body=body)
    )


def _person_of(reader: Principal) -> UUID:
    assert reader.person_id is not None, "person routes and person references name a person"
    return reader.person_id


class AccountController(Controller):
    path = "/v1/me"
    tags = ("account",)

    @get(
        "/account",
        operation_id="getMyAccount",
        summary="The whole account: CPF, CEC, C2P, linked services, as scopes allow",
        **doc(
            requires(),
            description=(
                "Balances (CPF available, held, statutory, abondements; CEC; C2P points "
                "available and reserved for training), linked services and the last crediting "
                "date, in one call. Each section appears only with its scope."
            ),
        ),
    )
    async def account(self, call: Caller) -> AccountView:
        scopes = _readable(call.principal)
        async with call.db.acquire() as db:  # one statement: no BEGIN/COMMIT
            return await _account(call, db, call.principal, scopes, "/v1/me/account")

    @get(
        "/entries",
        operation_id="listMyEntries",
        summary="The account's ledger entries, newest first (cursor pagination)",
        **doc(requires(), InvalidCursor),
        dependencies=_ENTRY_QUERY,
    )
    async def entries(self, call: Caller, listing: NamedDependency[EntryQuery]) -> EntryPage:
        scopes = _readable(call.principal)
        listing = listing.seen_with(scopes)
        async with call.transaction() as db:
            return await _entries(call, db, call.principal, scopes, "/v1/me/entries", listing)

    @get(
        "/entries/{entry_id:str}/explanation",
        operation_id="explainMyEntry",
        summary="Why an entry is there: rule, parameter date, legal reference, declaration",
        **doc(requires(), EntryNotFound),
    )
    async def explanation(self, call: Caller, entry_id: EntryIdParam) -> EntryExplanation:
        scopes = _readable(call.principal)
        route = "/v1/me/entries/{id}/explanation"
        async with call.transaction() as db:
            return await _explanation(call, db, call.principal, scopes, route, entry_id)


class AdvisorAccountController(Controller):
    """The same views for an advisor, through a person reference (``POST /v1/advisor/lookups``)."""

    path = "/v1/advisor/persons/{ref:str}"
    tags = ("advisor",)

    @get(
        "/account",
        operation_id="getAdvisorPersonAccount",
        summary="A looked-up person's whole account (journaled with the purpose)",
        **doc(ADVISOR, PersonRefNotFound),
    )
    async def account(self, call: Caller, ref: FromPath[str]) -> AccountView:
        route = "/v1/advisor/persons/{ref}/account"
        async with call.transaction() as db:
            advisor = await resolve_person_ref(db, call.principal, ref)
            return await _account(call, db, advisor, ADVISOR_SCOPES, route)

    @get(
        "/entries",
        operation_id="listAdvisorPersonEntries",
        summary="A looked-up person's ledger entries (journaled with the purpose)",
        **doc(ADVISOR, PersonRefNotFound, InvalidCursor),
        dependencies=_ENTRY_QUERY,
    )
    async def entries(
        self, call: Caller, ref: FromPath[str], listing: NamedDependency[EntryQuery]
    ) -> EntryPage:
        route = "/v1/advisor/persons/{ref}/entries"
        async with call.transaction() as db:
            advisor = await resolve_person_ref(db, call.principal, ref)
            return await _entries(call, db, advisor, ADVISOR_SCOPES, route, listing)

    @get(
        "/entries/{entry_id:str}/explanation",
        operation_id="explainAdvisorPersonEntry",
        summary="Why an entry of a looked-up person is there (journaled with the purpose)",
        **doc(ADVISOR, PersonRefNotFound, EntryNotFound),
    )
    async def explanation(
        self, call: Caller, ref: FromPath[str], entry_id: EntryIdParam
    ) -> EntryExplanation:
        route = "/v1/advisor/persons/{ref}/entries/{id}/explanation"
        async with call.transaction() as db:
            advisor = await resolve_person_ref(db, call.principal, ref)
            return await _explanation(call, db, advisor, ADVISOR_SCOPES, route, entry_id)
