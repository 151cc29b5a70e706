"""Training purchases (issue 13): a dossier requested, validated and accepted (the hold
inside), against the bare hold route.

- ``dossier_accept``: each of 64 connections runs dossiers one after the other: the citizen's
  ``POST /v1/me/dossiers``, the body's ``POST /v1/dossiers/{id}/actions/validate``, the
  citizen's ``…/actions/accept`` (copayment, hold, amounts, history, events, journal). Its
  requests/s counts the three; a dossier is three requests. Target (issue 13): a dossier
  created and accepted at >= 0.8 x the throughput of ``holds_random`` (same run).

Setup: ``PERSONS`` persons with a year credited (500 € of rights), a training body with
``ACTIONS`` actions of one session each, priced at the participation forfaitaire + 1 € (each
hold takes 1 €, as a bench hold takes a cent: no account runs dry), citizens' portal tokens
and the body's own token, signed as the authorization server signs them. A connection walks
the (person, action) pairs in turn: the 5 open requests per pair are reached after
``PERSONS x ACTIONS x 5`` dossiers, far beyond a run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any
from uuid import UUID

import asyncpg

from cpa.auth.crypto import new_token
from cpa.db.pool import _init_connection
from cpa.rules.copayment import CopaymentSituation, copayment
from cpa.trainings import NewSession, NewTrainingAction, create_action, create_session
from tests.bench.harness import BenchContext, Scenario
from tests.bench.scenarios_ledger import (
    HOLD_CONNECTIONS,
    PROJECT,
    TOKEN_LIFETIME_S,
    _warm_up,
    credited_persons,
)
from tests.support.tokens import Minter, register_partner

PERSONS = 1_000
ACTIONS = 3
CITIZEN_SCOPES = ["dossiers:read", "dossiers:write"]
BODY_SCOPES = "trainings:write dossiers:manage"


async def _catalogue(db: asyncpg.Connection, body: str) -> list[UUID]:
    now = dt.datetime.now(dt.UTC)
    flat = copayment(10**6, 0, CopaymentSituation(), now.date()).flat_amount_cents
    sessions = []
    for n in range(ACTIONS):
        new = NewTrainingAction(
            title=f"Bench {n}", certification_code=f"RS{9000 + n}", duration_hours=7,
            modality="remote",
        )  # fmt: skip
        action = await create_action(db, body, new, now=now)
        starts_on = now.date() + dt.timedelta(days=60)
        session = NewSession(
            starts_on=starts_on, ends_on=starts_on, price_cents=flat + 100, seats=10_000
        )
        sessions.append((await create_session(db, body, action.id, session, now=now)).id)
    return sessions


def _machine_token(minter: Minter, client_id: str, scope: str) -> str:
    """The body's own token, with the claims the server gives a client-credentials token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": minter.state.issuer, "aud": minter.state.codec.audience, "client_id": client_id,
        "scope": scope, "jti": new_token(16), "iat": now, "exp": now + TOKEN_LIFETIME_S,
        "sub": client_id,
    }  # fmt: skip
    return minter.state.codec.encode(claims)


async def _setup(ctx: BenchContext) -> dict[str, Any]:
    minter = Minter(ctx.base_url, PROJECT / ".cpa" / "bench", lifetime_s=TOKEN_LIFETIME_S)
    db = await asyncpg.connect(ctx.dsn)
    await _init_connection(db)
    try:
        await minter.load_keys(db)
        portal = await register_partner(db, "portal", "bench dossier portal")
        body = await register_partner(db, "training_body", "bench dossier body")
        async with db.transaction():
            persons = await credited_persons(
                db, minter.vault, PERSONS, series="1770598"
            )  # their own
            sessions = await _catalogue(db, body)
        tokens = [await minter.token(db, portal, p, CITIZEN_SCOPES) for p in persons]
    finally:
        await db.close()
    body_token = _machine_token(minter, body, BODY_SCOPES)
    await _warm_up(ctx.base_url, tokens)
    return {"tokens": tokens, "body_token": body_token, "sessions": sessions}


def _lua(tokens: list[str], body_token: str, sessions: list[UUID]) -> str:
    """One connection per thread: its own dossier at a time, request → validate → accept."""
    token_table = ",\n".join(f'"{t}"' for t in tokens)
    session_table = ", ".join(f'"{s}"' for s in sessions)
    return f"""
local tokens = {{
{token_table}
}}
local sessions = {{ {session_table} }}
local body = "Bearer {body_token}"
local threads = 0
thread_id = 0
local n = 0
local phase = "request"
local dossier = nil
local citizen = nil

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_id)
  prefix = string.format("%d-%d-%d", os.time(), thread_id, math.random(1, 1000000000))
end

-- Every dossier POST requires an Idempotency-Key: unique across threads, rounds and runs.
local function key()
  return prefix .. "-" .. n .. "-" .. phase
end

function request()
  if phase == "validate" then
    return wrk.format("POST", "/v1/dossiers/" .. dossier .. "/actions/validate",
      {{["Authorization"] = body, ["Idempotency-Key"] = key()}}, nil)
  elseif phase == "accept" then
    return wrk.format("POST", "/v1/me/dossiers/" .. dossier .. "/actions/accept",
      {{["Authorization"] = citizen, ["Idempotency-Key"] = key()}}, nil)
  end
  n = n + 1
  local slot = (n * {HOLD_CONNECTIONS} + thread_id)
  citizen = "Bearer " .. tokens[slot % #tokens + 1]
  local session = sessions[math.floor(slot / #tokens) % #sessions + 1]
  return wrk.format("POST", "/v1/me/dossiers", {{
    ["Authorization"] = citizen,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key(),
  }}, '{{"session_id":"' .. session .. '"}}')
end

function response(status, headers, answer)
  if phase == "request" and status == 201 then
    dossier = string.match(answer, '"id":"([^"]+)"')
    phase = "validate"
  elseif phase == "validate" and status == 200 then
    phase = "accept"
  else
    phase = "request"
  end
end
"""


def scenarios(ctx: BenchContext) -> list[Scenario]:
    state = asyncio.run(_setup(ctx))
    print(f"# trainings: {len(state['tokens'])} citizens, {len(state['sessions'])} sessions")
    return [
        Scenario(
            "dossier_accept",
            "/v1/me/dossiers",
            lua=_lua(state["tokens"], state["body_token"], state["sessions"]),
            connections=HOLD_CONNECTIONS,
            threads=HOLD_CONNECTIONS,
            baseline="holds_random",
            target="dossier (3 requests) >= 0.8 x holds/s: requests/s >= 2.4 x",
        ),
    ]
