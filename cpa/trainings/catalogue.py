"""The catalogue: a training body keeps its own actions and sessions; citizens and advisors
search the open ones, a page at a time (cursor: the last action id)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID, uuid4

import asyncpg

from cpa.db.constraints import domain_errors
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.db.rows import from_row
from cpa.trainings.errors import (
    InvalidTrainingInput,
    TrainingActionNotFound,
    TrainingSessionNotFound,
)
from cpa.trainings.models import (
    NewSession,
    NewTrainingAction,
    SessionPatch,
    TrainingAction,
    TrainingActionPatch,
    TrainingPage,
    TrainingSearch,
    TrainingSession,
)

__all__ = [
    "close_action",
    "create_action",
    "create_session",
    "get_action",
    "list_own_actions",
    "search_actions",
    "update_action",
    "update_session",
]

PAGE_SIZE_MAX = 100
SESSION_LENGTH_MAX = dt.timedelta(days=3 * 366)
"""A session lasts at most three years (a long apprenticeship-like course)."""


async def create_action(
    db: Connection, client_id: str, new: NewTrainingAction, *, now: dt.datetime
) -> TrainingAction:
    with domain_errors():
        row = await db.fetchrow(
            sql("insert_training_action"), uuid4(), client_id, new.title,
            new.certification_code, new.description, new.duration_hours, new.modality,
            new.location, new.prerequisites, now,
        )  # fmt: skip
    assert row is not None, "an insert returns its row"
    return _action(row, [])


async def update_action(
    db: Connection, client_id: str, action_id: UUID, patch: TrainingActionPatch, *,
    now: dt.datetime,
) -> TrainingAction:  # fmt: skip
    """Change the body's own action; another body's is not found."""
    with domain_errors():
        row = await db.fetchrow(
            sql("update_training_action"), action_id, client_id, patch.title, patch.description,
            patch.duration_hours, patch.modality, patch.location, patch.prerequisites, now,
        )  # fmt: skip
    if row is None:
        raise TrainingActionNotFound()
    return await _with_sessions(db, row)


async def close_action(
    db: Connection, client_id: str, action_id: UUID, *, now: dt.datetime
) -> TrainingAction:
    row = await db.fetchrow(sql("close_training_action"), action_id, client_id, now)
    if row is None:
        raise TrainingActionNotFound()
    return await _with_sessions(db, row)


async def create_session(
    db: Connection, client_id: str, action_id: UUID, new: NewSession, *, now: dt.datetime
) -> TrainingSession:
    if not new.starts_on <= new.ends_on <= new.starts_on + SESSION_LENGTH_MAX:
        raise InvalidTrainingInput(
            "a session ends on or after its start, within three years",
            errors=[{"field": "ends_on", "message": "must be in [starts_on, starts_on + 3 y]"}],
        )
    with domain_errors():
        row = await db.fetchrow(
            sql("insert_training_session"), uuid4(), action_id, client_id, new.starts_on,
            new.ends_on, new.price_cents, new.seats, now,
        )  # fmt: skip
    if row is None:
        raise TrainingActionNotFound()
    return from_row(TrainingSession, row)


async def update_session(
    db: Connection, client_id: str, session_id: UUID, patch: SessionPatch, *, now: dt.datetime
) -> TrainingSession:
    with domain_errors():
        row = await db.fetchrow(
            sql("update_training_session"), session_id, client_id, patch.price_cents,
            patch.seats, patch.open, now,
        )  # fmt: skip
    if row is None:
        raise TrainingSessionNotFound()
    return from_row(TrainingSession, row)


async def get_action(db: Connection, action_id: UUID) -> TrainingAction:
    row = await db.fetchrow(sql("get_training_action"), action_id)
    if row is None:
        raise TrainingActionNotFound()
    return await _with_sessions(db, row)


async def search_actions(db: Connection, query: TrainingSearch) -> TrainingPage:
    """Open actions matching every criterion given, with an open session that does."""
    limit = _limit(query.limit)
    rows = await db.fetch(
        sql("search_training_actions"), query.after, query.text, query.certification_code,
        query.location, query.starts_from, query.starts_until, query.price_cents_max, limit + 1,
    )  # fmt: skip
    return await _page(db, rows, limit)


async def list_own_actions(
    db: Connection, client_id: str, *, after: UUID | None, limit: int
) -> TrainingPage:
    rows = await db.fetch(sql("list_client_training_actions"), client_id, after, _limit(limit) + 1)
    return await _page(db, rows, _limit(limit))


def _limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidTrainingInput(
            f"limit is 1 to {PAGE_SIZE_MAX}", errors=[{"field": "limit", "message": "1 to 100"}]
        )
    return limit


async def _page(db: Connection, rows: list[asyncpg.Record], limit: int) -> TrainingPage:
    """One more row than the page was read: its presence says there is a next page."""
    shown = rows[:limit]
    sessions = await _sessions(db, [row["id"] for row in shown])
    items = [_action(row, sessions.get(row["id"], [])) for row in shown]
    cursor = shown[-1]["id"] if len(rows) > limit else None
    return TrainingPage(items=items, next_cursor=cursor)


async def _with_sessions(db: Connection, row: asyncpg.Record) -> TrainingAction:
    sessions = await _sessions(db, [row["id"]])
    return _action(row, sessions.get(row["id"], []))


async def _sessions(db: Connection, action_ids: list[UUID]) -> dict[UUID, list[TrainingSession]]:
    found: dict[UUID, list[TrainingSession]] = {}
    for row in await db.fetch(sql("list_training_sessions"), action_ids):
        found.setdefault(row["action_id"], []).append(from_row(TrainingSession, row))
    return found


def _action(row: asyncpg.Record, sessions: list[TrainingSession]) -> TrainingAction:
    return from_row(TrainingAction, row, sessions=sessions)
