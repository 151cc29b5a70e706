"""A database outage: which errors mean one, and its log (once per outage per process).

While PostgreSQL is stopped, restarting or refusing connections, every request needing it is
answered 503 with ``Retry-After`` (``cpa.api.problems``) and counted here, rather than each
writing a traceback: the first refusal logs ``database_unavailable``, the first connection
made again afterwards logs ``database_available_again`` with the outage's duration and the
count of requests refused meanwhile. Anything else stays a programmer error (500, traceback).
"""

from __future__ import annotations

import os
import time

import asyncpg
import structlog

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 1
"""What a refused client is told to wait: the pool retries a connection on every request,
and the service recovers within about a second of PostgreSQL coming back."""


class DatabaseUnreachable(ConnectionError):
    """A new connection to PostgreSQL could not be made (refused, unresolvable, timed out)."""


class PoolExhausted(TimeoutError):
    """No pooled connection was handed out within the acquire timeout: every one was busy
    (or the one being opened hung). The database may well be answering."""


_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnreachable,
    ConnectionError,  # refused, reset, aborted, broken pipe (OSError subclasses)
    TimeoutError,  # the pool's acquire, connect and command timeouts
    asyncpg.PostgresConnectionError,  # 08xxx, ConnectionDoesNotExistError included
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # asyncpg's protocol on a connection lost mid-operation before it noticed ("cannot switch
    # to state …; another operation is in progress"): seen when the postmaster was killed.
    asyncpg.exceptions.InternalClientError,
)


CAUSES_FOLLOWED_MAX = 5


def _found_in(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``error``, or what it was raised from or while handling, is one of ``kinds``."""
    seen: BaseException | None = error
    for _ in range(CAUSES_FOLLOWED_MAX):
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now (not a broken invariant).

    Follows what it was raised from or while handling: a transaction whose connection was
    lost mid-way ends with asyncpg's ``InterfaceError`` ("the underlying connection is
    closed") raised by its exit, over the connection error itself (a 500, seen in one of about a
    dozen kills of the embedded postmaster under load).
    """
    return _found_in(error, _OUTAGE_ERRORS)


class Outage:
    """This process's view of the database's availability (one instance per process).

    What ends an outage depends on what began it. One begun by a failed connection or
    statement ends only when a *new connection*, begun during it, is made: a statement on a
    connection opened before may still succeed while PostgreSQL shuts down (its backend not
    yet terminated), which would end an outage just begun and log one stop as several (seen in
    CI). One begun only by waiting too long for a pooled connection (``PoolExhausted``: no
    connection failed, none may need opening again) ends also when a unit of work begun during
    it goes through.
    """

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.refused = 0
        self.waiting_only = False

    @property
    def ongoing(self) -> bool:
        return self.started_at is not None

    def refuse(self, error: BaseException) -> None:
        """One request refused for ``error``; the first of an outage is logged."""
        self.refused += 1
        self.begin(error)

    def begin(self, error: BaseException) -> None:
        """The database failed us with ``error``: logged if no outage was under way."""
        waiting = _found_in(error, (PoolExhausted,))
        if self.started_at is None:
            self.started_at = time.monotonic()
            self.waiting_only = waiting
            log.warning("database_unavailable", error=type(error).__name__, pid=os.getpid())
        elif not waiting:
            self.waiting_only = False

    def connected(self, began: float | None) -> None:
        """A new connection was made, begun while ``started_at`` was ``began``: if that was
        during this outage, the outage is over (one begun before proves nothing)."""
        if self.started_at is not None and began == self.started_at:
            self._end()

    def worked(self, began: float | None) -> None:
        """A unit of work begun while ``started_at`` was ``began`` went through: the end of an
        outage begun by waiting for a busy pool, not of one begun by a failed connection."""
        if self.waiting_only:
            self.connected(began)

    def _end(self) -> None:
        assert self.started_at is not None
        log.warning(
            "database_available_again",
            outage_s=round(time.monotonic() - self.started_at, 3),
            requests_refused=self.refused,
            pid=os.getpid(),
        )
        self.started_at = None
        self.refused = 0
        self.waiting_only = False


OUTAGE = Outage()
