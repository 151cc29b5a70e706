"""A database outage: which errors mean one, and its log (once per outage per process).

While PostgreSQL is stopped, restarting or refusing connections, every request needing it is
answered 503 with ``Retry-After`` (``cpa.api.problems``) and counted here, rather than each
writing a traceback: the first refusal logs ``database_unavailable``, the first connection
made again afterwards logs ``database_available_again`` with the outage's duration and the
count of requests refused meanwhile. Anything else stays a programmer error (500, traceback).
"""

from __future__ import annotations

import time

import asyncpg
import structlog

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 1
"""What a refused client is told to wait: the pool retries a connection on every request,
and the service recovers within about a second of PostgreSQL coming back."""


class DatabaseUnreachable(ConnectionError):
    """A new connection to PostgreSQL could not be made (refused, unresolvable, timed out)."""


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


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now (not a broken invariant).

    Follows what it was raised from or while handling: a transaction whose connection was
    lost mid-way ends with asyncpg's ``InterfaceError`` ("the underlying connection is
    closed") raised by its exit, over the connection error itself (a 500, seen in one of about a
    dozen kills of the embedded postmaster under load).
    """
    seen: BaseException | None = error
    for _ in range(CAUSES_FOLLOWED_MAX):
        if seen is None:
            return False
        if isinstance(seen, _OUTAGE_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Outage:
    """This process's view of the database's availability (one instance per process)."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.refused = 0

    @property
    def ongoing(self) -> bool:
        return self.started_at is not None

    def refuse(self, error: BaseException) -> None:
        """One request refused for ``error``; the first of an outage is logged."""
        self.refused += 1
        self.begin(error)

    def begin(self, error: BaseException) -> None:
        """The database failed us with ``error``: logged if no outage was under way."""
        if self.started_at is None:
            self.started_at = time.monotonic()
            log.warning("database_unavailable", error=type(error).__name__)

    def connected(self, began: float | None) -> None:
        """Something started while this outage was under way (``began``: ``started_at`` read
        before it started) went through: the outage is over.

        Only then: a statement already running when PostgreSQL began to shut down may still
        succeed after the first refusal (its backend not yet terminated), which would end an
        outage just begun and log it twice (seen in CI: three outages logged for one stop).
        """
        if self.started_at is None or began != self.started_at:
            return
        log.warning(
            "database_available_again",
            outage_s=round(time.monotonic() - self.started_at, 3),
            requests_refused=self.refused,
        )
        self.started_at = None
        self.refused = 0


OUTAGE = Outage()
