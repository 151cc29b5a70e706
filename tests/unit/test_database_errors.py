"""Database errors as the service answers and logs them (issue 10, defects 3 and 7): an
outage is told from a programmer error, any violated constraint is a problem, and no row
data reaches a log line."""

from __future__ import annotations

import asyncpg
import pytest
from structlog.testing import capture_logs

from cpa.db.constraints import ConstraintRefused, ConstraintViolated, refusal, unstorable
from cpa.db.outage import DatabaseUnreachable, Outage, PoolExhausted, is_outage
from cpa.ledger.errors import InsufficientRights
from cpa.log import strip_row_data

ROW = "Failing row contains (6f1c…, A-7, training_funding)"


def _violation(kind: type[asyncpg.PostgresError], constraint: str) -> asyncpg.PostgresError:
    error = kind("new row violates a constraint")
    error.detail = ROW
    error.constraint_name = constraint
    return error


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ConnectionRefusedError(), True),
        (DatabaseUnreachable("cannot connect"), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many"), True),
        (asyncpg.exceptions.InternalClientError("another operation (2) is in progress"), True),
        (AssertionError("broken invariant"), False),
        (KeyError("partner"), False),
        (FileNotFoundError("nir.key"), False),
        (asyncpg.exceptions.UndefinedColumnError("no such column"), False),
        (asyncpg.exceptions.InterfaceError("another operation is in progress"), False),
    ],
)
def test_outage_errors_are_told_from_programmer_errors(error: Exception, outage: bool) -> None:
    assert is_outage(error) is outage


def _raised_while_handling(error: Exception, cause: Exception) -> Exception:
    try:
        try:
            raise cause
        except Exception:
            raise error  # noqa: B904 - the implicit context is what asyncpg leaves
    except Exception as raised:
        return raised


def test_a_transaction_lost_with_its_connection_is_an_outage() -> None:
    """asyncpg's transaction exit raises InterfaceError over the lost connection's error."""
    closed = asyncpg.exceptions.InterfaceError("the underlying connection is closed")
    lost = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    assert is_outage(_raised_while_handling(closed, lost))
    assert not is_outage(_raised_while_handling(closed, KeyError("partner")))


def test_an_outage_is_logged_when_it_starts_and_when_it_ends() -> None:
    outage = Outage()
    with capture_logs() as logs:
        for _ in range(100):
            outage.refuse(ConnectionRefusedError())
        began = outage.started_at
        outage.connected(began)
        outage.connected(began)
    assert [entry["event"] for entry in logs] == [
        "database_unavailable",
        "database_available_again",
    ]
    assert logs[1]["requests_refused"] == 100


def test_what_began_before_an_outage_does_not_end_it() -> None:
    """A statement running when PostgreSQL began to shut down may still succeed after the
    first refusal: that is no recovery (it logged one stop as several outages)."""
    outage = Outage()
    with capture_logs() as logs:
        began_before = outage.started_at
        outage.refuse(ConnectionResetError())
        outage.connected(began_before)
        outage.refuse(ConnectionResetError())
        assert outage.ongoing
        outage.connected(outage.started_at)
    assert [entry["event"] for entry in logs] == [
        "database_unavailable",
        "database_available_again",
    ]
    assert logs[1]["requests_refused"] == 2


def test_a_statement_going_through_does_not_end_an_outage_of_failed_connections() -> None:
    """While PostgreSQL shuts down, a connection whose backend is not yet terminated still
    answers: only a new connection proves it is back."""
    outage = Outage()
    with capture_logs() as logs:
        outage.refuse(asyncpg.exceptions.AdminShutdownError())
        began = outage.started_at
        outage.worked(began)
        assert outage.ongoing
        outage.refuse(asyncpg.exceptions.CannotConnectNowError())
        outage.connected(began)
    assert [entry["event"] for entry in logs] == [
        "database_unavailable",
        "database_available_again",
    ]


def test_an_outage_begun_by_a_busy_pool_ends_when_work_goes_through() -> None:
    outage = Outage()
    with capture_logs() as logs:
        outage.refuse(PoolExhausted())
        outage.worked(outage.started_at)
        assert not outage.ongoing
        outage.refuse(PoolExhausted())
        outage.refuse(ConnectionRefusedError())  # a connection failed meanwhile
        outage.worked(outage.started_at)
        assert outage.ongoing
        outage.connected(outage.started_at)
    assert [entry["event"] for entry in logs] == [
        "database_unavailable",
        "database_available_again",
        "database_unavailable",
        "database_available_again",
    ]


def test_registered_and_unregistered_constraints_are_problems() -> None:
    registered = refusal(_violation(asyncpg.CheckViolationError, "ledger_balances_no_overdraft"))
    assert isinstance(registered, InsufficientRights)
    with capture_logs() as logs:
        unique = refusal(_violation(asyncpg.UniqueViolationError, "some_table_key"))
        check = refusal(_violation(asyncpg.CheckViolationError, "some_table_check"))
    assert isinstance(unique, ConstraintViolated) and unique.status == 409
    assert isinstance(check, ConstraintRefused) and check.status == 422
    assert [entry["constraint"] for entry in logs] == ["some_table_key", "some_table_check"]
    assert "Failing row" not in str(logs) + unique.detail + check.detail


def test_values_postgresql_cannot_store_are_invalid_input() -> None:
    nul = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence: 0x00")
    assert unstorable(nul) is not None
    bind = asyncpg.exceptions.DataError(
        "invalid input for query argument $1: 9223372036854775808 (value out of int64 range)"
    )
    refused = unstorable(bind)
    assert refused is not None and "9223372036854775808" not in refused.detail
    assert unstorable(asyncpg.exceptions.DivisionByZeroError("division by zero")) is None


def test_logged_database_errors_carry_no_row_data() -> None:
    violation = _violation(asyncpg.CheckViolationError, "advisor_lookups_advisor_id_length")
    try:
        try:
            raise violation
        except asyncpg.CheckViolationError as inner:
            raise RuntimeError("while writing") from inner
    except RuntimeError as outer:
        strip_row_data(None, "error", {"event": "request_failed", "exc_info": outer})
    assert "Failing row" not in str(violation)
    bind = asyncpg.exceptions.DataError("invalid input for query argument $2: '1234567' (bad)")
    strip_row_data(None, "error", {"event": "request_failed", "exc_info": bind})
    assert "1234567" not in str(bind)
