"""Everything partner access keeps in one process: keys, caches, limits, the Authlib server.

Built once per app (no I/O at construction); what needs the database is loaded on first use
and refreshed on its own schedule, so a guarded request on a warm process costs no query.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from cpa.auth.clients import Client, find_client
from cpa.auth.crypto import VerifiedSecretCache, derive_key, master_key
from cpa.auth.errors import Unauthorized
from cpa.auth.keys import KeyStore
from cpa.auth.login import LoginMethod, PasswordLogin
from cpa.auth.principal import Principal
from cpa.auth.ratelimit import LoginThrottle, RateLimiter
from cpa.auth.revocation import RevocationList
from cpa.auth.server import Connect, CpaAuthorizationServer, given
from cpa.auth.sessions import BrowserSessions
from cpa.auth.settings import AuthSettings, auth_settings_from_environ
from cpa.auth.tickets import TICKETS_LABEL, LoginTickets
from cpa.auth.tokens import AccessTokenCodec, TokenInvalid, peek_header
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.persons import NirVault

CLIENT_CACHE_TTL_S = 10.0
"""How long a worker trusts a client row it loaded. A disabled client is dropped from every
worker's cache sooner, at the next poll of the disabled-clients feed (``revocation_poll_ms``,
1 s): this delay is only the backstop, should a poll miss it."""
CLIENT_RELOAD_GRACE_S = 1.0
"""While one request reloads an expired client row, the others use the old one this long
rather than all queue for a connection to load it too."""
CLIENT_CACHE_SIZE_MAX = 10_000
DATABASE_WAIT_S = 5.0
"""Longest wait of a request for another's load (the first keys, a client row): the load
itself is bounded by the pool's acquire, connect and command timeouts (``Settings``), so
this only fires if those do not; then ``TimeoutError``, answered 503 like an outage."""
CONSENT_CACHE_SIZE_MAX = 100_000


@dataclass(frozen=True)
class _ConsentSubject:
    person_id: UUID
    client_id: str


class AuthState:
    def __init__(
        self, issuer: str, key_file: Path, vault: NirVault, settings: AuthSettings | None = None
    ) -> None:
        self.settings = settings or auth_settings_from_environ()
        self.issuer = issuer.rstrip("/")
        master = master_key(key_file)
        self.keys = KeyStore.from_master(master, self.settings.key_reload_s)
        self.tickets = LoginTickets(self.issuer, derive_key(master, TICKETS_LABEL))
        self.sessions = BrowserSessions(self.settings, self.issuer)
        """Login tickets (keyed by HKDF only: a ticket lives ten minutes, so an upgrade
        costs at most a login in progress, which starts again)."""
        self.codec = AccessTokenCodec(self.issuer, self.keys, self.settings.clock_skew_s)
        self.secrets = VerifiedSecretCache(self.settings.verified_secret_cache_size)
        self.server = CpaAuthorizationServer(self.issuer, self.settings, self.codec, self.secrets)
        self.revocations = RevocationList(self.settings.revocation_poll_ms)
        window_s, keys_max = self.settings.rate_limit_window_s, self.settings.rate_limit_keys_max
        self.rate_limiter = RateLimiter(window_s, keys_max)
        """A client's own authenticated requests (the API guard and the OAuth endpoints)."""
        self.client_auth_failures = RateLimiter(window_s, keys_max)
        """Failed client authentications, per caller address (never per claimed client)."""
        self.login_throttle = LoginThrottle(self.settings)
        self.login: LoginMethod = PasswordLogin(vault)
        self._tokens: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._clients: OrderedDict[str, tuple[float, Client | None]] = OrderedDict()
        self._clients_loading: dict[str, asyncio.Future[Client | None]] = {}
        self._disabled_polled_at: Any = None
        self._refreshing = asyncio.Lock()
        self._first_load = asyncio.Event()
        self._consents: OrderedDict[UUID, _ConsentSubject] = OrderedDict()

    # -- freshness --------------------------------------------------------------------------

    def needs_database(self) -> bool:
        if self._refreshing.locked() and self.keys.loaded:
            return False  # another request is refreshing: see refresh()
        return self.keys.stale() or self.revocations.stale()

    async def refresh(self, connect: Connect) -> None:
        """Reload keys, revocations and disabled clients when stale, one request at a time.

        The requests that find a refresh under way go on with what is loaded (one poll
        older, by the few milliseconds of its round trip) instead of each taking a
        connection to poll too: that herd, every second, was the token endpoint's p99.
        Only the very first load of the signing keys is waited for, before connecting.
        """
        if self._refreshing.locked():
            if self.keys.loaded:
                return
            async with asyncio.timeout(DATABASE_WAIT_S):
                await self._first_load.wait()  # wakes every waiter at once, unlike the lock
            if self.keys.loaded:
                return
        async with asyncio.timeout(DATABASE_WAIT_S):
            await self._refreshing.acquire()
        try:
            if not (self.keys.stale() or self.revocations.stale()):
                return  # refreshed by the request this one waited for
            db = await connect()
            await self.keys.refresh(db)
            if self.revocations.stale():
                await self.revocations.poll(db)
                await self._forget_disabled_clients(db)
        finally:
            self._first_load.set()  # loaded, or failed: the waiters try themselves
            self._refreshing.release()

    # -- clients ----------------------------------------------------------------------------

    async def client(self, db: Connection, client_id: str) -> Client | None:
        """A client row for the guard (cached briefly, unknown ids too)."""
        cached = self.cached_client(client_id)
        if cached is not False:
            return cached
        return await self.load_client(given(db), client_id)

    def known_client(self, client_id: str) -> Client | None:
        """A registered client row loaded less than ``CLIENT_CACHE_TTL_S`` ago, or None.

        The token endpoint authenticates against it without a query: an unknown id is never
        answered from the cache (a client registered a moment ago must work at once).
        """
        cached = self.cached_client(client_id)
        return cached if isinstance(cached, Client) else None

    def cached_client(self, client_id: str) -> Client | Literal[False] | None:
        """The cached client, or False when the guard must ask the database."""
        cached = self._clients.get(client_id)
        if cached is None:
            return False
        age = time.monotonic() - cached[0]
        if age < CLIENT_CACHE_TTL_S or (
            client_id in self._clients_loading and age < CLIENT_CACHE_TTL_S + CLIENT_RELOAD_GRACE_S
        ):
            return cached[1]
        return False

    async def load_client(self, connect: Connect, client_id: str) -> Client | None:
        """Load a client row into the cache (asking for a connection only now); requests
        missing the same row meanwhile wait for this load rather than each making one.

        One load per client id at a time, as a future always resolved: its waiters get its
        row or its error (a 503 in an outage), within ``DATABASE_WAIT_S``; if the load was
        cancelled (its request went away), the first waiter loads it again for the others.
        """
        for _load in range(2):  # the one under way, then (if it was cancelled) the next
            loading = self._clients_loading.get(client_id)
            if loading is None:
                break
            async with asyncio.timeout(DATABASE_WAIT_S):
                await asyncio.wait([loading])  # never cancels the load, nor raises its error
            if not loading.cancelled():
                return loading.result()
        return await self._load_client(connect, client_id)

    async def _load_client(self, connect: Connect, client_id: str) -> Client | None:
        loading: asyncio.Future[Client | None] = asyncio.get_running_loop().create_future()
        self._clients_loading[client_id] = loading
        try:
            client = await find_client(await connect(), client_id)
        except Exception as error:
            loading.set_exception(error)
            loading.exception()  # retrieved: asyncio must not log it again when no one waits
            raise
        except BaseException:
            loading.cancel()
            raise
        else:
            self._remember_client(client_id, client)
            loading.set_result(client)
            return client
        finally:
            if self._clients_loading.get(client_id) is loading:
                del self._clients_loading[client_id]

    def _remember_client(self, client_id: str, client: Client | None) -> None:
        self._clients[client_id] = (time.monotonic(), client)
        self._clients.move_to_end(client_id)
        if len(self._clients) > CLIENT_CACHE_SIZE_MAX:
            self._clients.popitem(last=False)

    async def _forget_disabled_clients(self, db: Connection) -> None:
        """Drop the clients disabled lately: their next request reloads them.

        The feed overlaps by a minute, so a row loaded just before the disabling committed
        and cached just after a poll is dropped again by the next one.
        """
        row = await db.fetchrow(sql("list_clients_disabled_since"), self._disabled_polled_at)
        assert row is not None, "the query always answers one row"
        for client_id in row["client_ids"]:
            self._clients.pop(client_id, None)
        self._disabled_polled_at = row["polled_at"]

    # -- bearer tokens ----------------------------------------------------------------------

    def cached_principal(self, token: str) -> Principal | None:
        """A principal whose token signature was already verified here and is still valid."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        principal, expires_at = entry
        if expires_at + self.settings.clock_skew_s <= time.time():
            del self._tokens[token]
            return None
        return principal

    async def verify_bearer(self, db: Connection, token: str) -> Principal:
        """Full verification of a token not seen before; the result is cached until exp."""
        try:
            header = peek_header(token)
            self.codec.check_header(header)
            await self.keys.refresh(db)
            await self.keys.refresh_for_unknown_kid(db, header.get("kid"))
            claims = self.codec.decode(token)
        except TokenInvalid as error:
            raise Unauthorized(str(error), headers=_challenge("invalid_token")) from error
        client = await self.client(db, str(claims["client_id"]))
        if client is None or client.disabled:
            raise Unauthorized("the client is disabled", headers=_challenge("invalid_token"))
        principal = await self._principal(db, claims, client)
        self._tokens[token] = (principal, float(claims["exp"]))
        if len(self._tokens) > self.settings.verified_token_cache_size:
            self._tokens.popitem(last=False)
        return principal

    async def _principal(self, db: Connection, claims: dict[str, Any], client: Client) -> Principal:
        common: dict[str, Any] = {
            "client_id": client.id,
            "client_kind": client.kind,
            "client_name": client.name,
            "scopes": frozenset(str(claims["scope"]).split()),
            "jti": str(claims["jti"]),
            "sub": str(claims["sub"]),
        }
        consent_id = claims.get("consent_id")
        if consent_id is None:
            if claims["sub"] != client.id:
                raise Unauthorized(
                    "machine tokens are their client's own subject",
                    headers=_challenge("invalid_token"),
                )
            return Principal(**common)
        subject = await self._consent_subject(db, UUID(str(consent_id)))
        # The pairwise sub must be this client's view of the consent's person: a token can
        # never name another client's subject, nor another person.
        if (
            subject is None
            or subject.client_id != client.id
            or client.subject_for(subject.person_id) != claims["sub"]
        ):
            raise Unauthorized(
                "the token does not match its consent", headers=_challenge("invalid_token")
            )
        return Principal(
            **common,
            person_id=subject.person_id,
            consent_id=UUID(str(consent_id)),
            acr=claims.get("acr"),
        )

    async def _consent_subject(self, db: Connection, consent_id: UUID) -> _ConsentSubject | None:
        subject = self._consents.get(consent_id)
        if subject is None:
            row = await db.fetchrow(sql("get_consent"), consent_id)
            if row is None:
                return None
            subject = _ConsentSubject(person_id=row["person_id"], client_id=row["client_id"])
            self._consents[consent_id] = subject
            if len(self._consents) > CONSENT_CACHE_SIZE_MAX:
                self._consents.popitem(last=False)
        return subject

    def is_revoked(self, principal: Principal) -> bool:
        claims = {
            "jti": principal.jti,
            "consent_id": str(principal.consent_id) if principal.consent_id else None,
        }
        return self.revocations.is_revoked(claims)


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="{error}"'}
