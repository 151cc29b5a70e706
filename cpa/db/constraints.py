"""Constraint names → operating errors: the one place a database refusal becomes a problem.

Each domain registers the constraints of its own tables with :func:`register` when it is
imported (a constraint name is owned once); services run their writes inside
:func:`domain_errors`, and the HTTP layer maps whatever escapes through :func:`refusal` too.
A violated constraint nobody registered is still an answer to the caller's input (409 for a
uniqueness or exclusion, 422 otherwise), logged by name only: never a 500, and never the row,
which PostgreSQL puts in the error's ``detail`` (``Failing row contains (…)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import asyncpg
import structlog

from cpa.errors import Conflict, CpaError, InvalidInput

log = structlog.get_logger(__name__)

_BY_NAME: dict[str, type[CpaError]] = {}
_BY_SUFFIX: dict[str, type[CpaError]] = {}


def register(errors: Mapping[str, type[CpaError]], *, suffixes: bool = False) -> None:
    """Map these constraint names (or, with ``suffixes``, name endings) to errors."""
    table = _BY_SUFFIX if suffixes else _BY_NAME
    for name, kind in errors.items():
        assert table.get(name, kind) is kind, f"constraint {name} is registered twice"
        table[name] = kind


def domain_error(error: asyncpg.PostgresError) -> CpaError | None:
    """The registered operating error for a violated constraint, or None."""
    name = getattr(error, "constraint_name", None) or ""
    kind = _BY_NAME.get(name)
    if kind is None:
        kind = next((k for s, k in _BY_SUFFIX.items() if name.endswith(s)), None)
    return kind() if kind is not None else None


class ConstraintViolated(Conflict, slug="constraint-violated"):
    """The request conflicts with data already recorded."""


class ConstraintRefused(InvalidInput, slug="constraint-refused"):
    """The database refused a value of the request."""


def refusal(error: asyncpg.IntegrityConstraintViolationError) -> CpaError:
    """The problem answering a constraint violation: registered, or generic (logged)."""
    mapped = domain_error(error)
    if mapped is not None:
        return mapped
    name = getattr(error, "constraint_name", None) or type(error).__name__
    log.warning("constraint_unregistered", constraint=name, sqlstate=error.sqlstate)
    if isinstance(error, asyncpg.UniqueViolationError | asyncpg.ExclusionViolationError):
        return ConstraintViolated(f"refused by {name}")
    return ConstraintRefused(f"refused by {name}")


class UnstorableValue(InvalidInput, slug="invalid-input"):
    """A value of the request cannot be stored (a NUL character, a number out of range)."""


_UNSTORABLE = (
    asyncpg.CharacterNotInRepertoireError,  # NUL in text
    asyncpg.UntranslatableCharacterError,
    asyncpg.NumericValueOutOfRangeError,
)
_BIND_ERROR = "invalid input for query argument"  # the driver's own check (int8 overflow)


def unstorable(error: BaseException) -> UnstorableValue | None:
    """The problem for a value PostgreSQL (or the driver) refuses to store, or None. The
    wire checks each field first (and names it); this is the net under every other string
    and integer that reaches a statement."""
    if isinstance(error, _UNSTORABLE):
        return UnstorableValue()
    if isinstance(error, asyncpg.DataError) and str(error.args[0]).startswith(_BIND_ERROR):
        return UnstorableValue(str(error.args[0]).split(":", 1)[0])  # no value: it is data
    return None


@contextmanager
def domain_errors() -> Iterator[None]:
    """Registered constraints violated inside become their operating errors; the others go
    on (a caller may expect one, e.g. a taken idempotency key) to :func:`refusal` at the edge."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        mapped = domain_error(error)
        if mapped is None:
            raise
        raise mapped from None
    except asyncpg.DataError as error:
        refused = unstorable(error)
        if refused is None:
            raise
        raise refused from None
