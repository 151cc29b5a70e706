"""Accounts and ledger (issue 5): the aggregated account read and CPF holds.

- ``account_read``: ``GET /v1/me/account`` of the first demo person (a full-time career
  credited from 2015, CEC engagements, a dotation, linked services: ~10 years of entries),
  guarded, masked, journaled. Target: >= 90 % of ``health_ready`` (the bare one-query route).
- ``holds_random``: ``POST /v1/me/cpf/holds``, 64 connections, each request on one of
  ``RANDOM_PERSONS`` accounts with a unique ``Idempotency-Key``. Target: >= 1,000 holds/s.
- ``holds_hot``: the same on one account (every request waits for that person's ledger
  lock). Target: >= 300 holds/s.

What bounds them, in the same run (not targets):
- ``account_floor``: ``GET /v1/bench/read-floor``, the cheapest read a guarded, journaled
  route can be (``cpa.api.bench``): what ``account_read`` would reach if its SQL cost nothing.
- ``holds_floor``: ``POST /v1/bench/hold-floor``, the same for a hold (token, body, key, one
  round trip): the server's part of a hold that no SQL work can remove.
- ``holds_pg_only``: pgbench running ``create_hold_lean`` (the server's path for these
  accounts: statutory rights, no earmarked grant) on the same random accounts, with
  as many clients as the server has pooled connections: the database alone, with both cores.
- ``holds_pg_floor``: the database's floor of a hold, pgbench running ``HOLD_DB_FLOOR``
  (``tests/bench/routes.py``) on copies of cpa's own tables (schema ``hold_floor``: same
  columns, CHECKs, indexes and foreign keys), writing only what any hold must: one
  conditional UPDATE of the person's row (no overdraft, the lock), the hold row, its two
  entries (double entry), the journal line, a durable commit. Not the balance rows nor the
  key probes of ``create_hold_lean``. ``holds_db_floor``: the same statement over HTTP, in
  the hold route's place (``POST /v1/bench/hold-db-floor``), as the server's pool runs it.

Setup works against the bench database with cpa's own services, as the server would: persons
registered, a year of activity declared and credited through ``cpa.rules``, a training body
and a portal registered, consents granted, and access tokens signed with the server's current
key by cpa's token codec, with the claims the authorization server puts in them. Tokens live
an hour here (the server's 5 minutes would not outlive ``--rounds 3``). Each hold takes one
cent, so no account runs dry however long the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from cpa.db.pool import _init_connection
from cpa.db.queries import sql
from cpa.declarations import (
    BATCH_LINES_MAX,
    ActivityDeclaration,
    DeclaredActivity,
    declare_activities,
)
from cpa.demo import DEMO_PERSONS
from cpa.ledger import credit_year
from cpa.persons import NewPerson, NirVault, find_person_by_nir, nir_key, register_person
from cpa.rules.debit import debit_order
from tests.bench.harness import BenchContext, Scenario
from tests.bench.routes import HOLD_DB_FLOOR
from tests.support.tokens import Minter, register_partner

PROJECT = Path(__file__).resolve().parents[2]
RANDOM_PERSONS = 1_000
HOLD_CONNECTIONS = 64
TOKEN_LIFETIME_S = 3_600
CREDITED_YEAR = 2024
FULL_TIME_CENTIHOURS = 160_700
READ_SCOPES = ["account:read", "cpf:read", "cec:read", "c2p:read", "services:read"]
HOLD_SCOPES = ["cpf:read", "cpf:hold"]
PG_ONLY_CLIENTS = 20
"""As many as the server's pooled connections (2 workers x ``pool_size_max`` 10)."""
WARM_UP_PASSES = 3


def bench_nir(serial: int, series: str = "1770599") -> str:
    """The ``serial``-th NIR of a ``series`` (the first seven digits): each scenario its own."""
    number = f"{series}{serial:06d}"
    return number + nir_key(number)


async def credited_persons(
    db: asyncpg.Connection, vault: NirVault, count: int, series: str = "1770599"
) -> list[UUID]:
    """``count`` persons with a full-time year declared and credited (500 € of CPF rights)."""
    persons = [
        await register_person(
            db, vault, NewPerson(nir=bench_nir(i, series), birth_date=dt.date(1977, 5, 1))
        )
        for i in range(count)
    ]
    activity = [DeclaredActivity(kind="employee", worked_centihours=FULL_TIME_CENTIHOURS)]
    today = dt.date(CREDITED_YEAR + 1, 4, 15)
    batch = [
        ActivityDeclaration(person_id=p.id, year=CREDITED_YEAR, activities=activity)
        for p in persons
    ]
    for start in range(0, len(batch), BATCH_LINES_MAX):
        result = await declare_activities(db, batch[start : start + BATCH_LINES_MAX], today=today)
        assert result.rejected == 0, result
    for person in persons:
        await credit_year(db, person.id, CREDITED_YEAR, today=today)
    return [p.id for p in persons]


async def _setup(ctx: BenchContext) -> dict[str, Any]:
    data_dir = PROJECT / ".cpa" / "bench"
    minter = Minter(ctx.base_url, data_dir, lifetime_s=TOKEN_LIFETIME_S)
    vault = minter.vault
    db = await asyncpg.connect(ctx.dsn)
    await _init_connection(db)
    try:
        await minter.load_keys(db)
        portal = await register_partner(db, "portal", "bench portal")
        training = await register_partner(db, "training_body", "bench training_body")
        demo = await find_person_by_nir(db, vault, DEMO_PERSONS[0].nir)  # type: ignore[arg-type]
        entries = await db.fetchval(
            "select count(*) from ledger_entries where person_id = $1", demo.id
        )
        async with db.transaction():
            random_ids = await credited_persons(db, vault, RANDOM_PERSONS + 1)
        hot, randoms = random_ids[0], random_ids[1:]
        read_token = await minter.token(db, portal, demo.id, READ_SCOPES)
        hot_token = await minter.token(db, training, hot, HOLD_SCOPES)
        hold_tokens = [await minter.token(db, training, p, HOLD_SCOPES) for p in randoms]
        await _number_accounts(db, randoms)
        await db.execute(HOLD_FLOOR_TABLES)
    finally:
        await db.close()
    await _warm_up(ctx.base_url, [read_token, hot_token, *hold_tokens])
    return {
        "training_client_id": training,
        "read_token": read_token,
        "hot_token": hot_token,
        "hold_tokens": hold_tokens,
        "demo_entries": entries,
    }


async def _number_accounts(db: asyncpg.Connection, persons: list[UUID]) -> None:
    """``bench_accounts`` (n, person_id): the random accounts, for pgbench to pick from (bench
    database only; not part of cpa's schema)."""
    await db.execute("create table bench_accounts (n integer primary key, person_id uuid)")
    await db.executemany(
        "insert into bench_accounts values ($1, $2)", list(enumerate(persons, start=1))
    )


def _holds_pgbench(client_id: str, accounts: int, statement: str) -> str:
    """What ``POST /v1/me/cpf/holds`` asks of the database, without the server: ``statement``
    (``create_hold_lean``, or its floor ``HOLD_DB_FLOOR``) with the arguments the server gives
    it (new ids and key, the journal line). The ids and key the server makes itself come from
    pgbench's random(): generated in SQL, they would add the database's random source to its
    cost."""
    rule = debit_order(dt.date.today())  # the debit order's trace, passed as the server does
    arguments = [
        "(select person_id from bench_account)",
        "md5(:h::text || 'hold')::uuid",
        "md5(:h::text || 'entries')::uuid",
        "1",
        "'BENCH'",
        "now() + interval '7 days'",
        "now()",
        "current_date",
        f"'{client_id}'",
        "'pgbench'",
        ":h::text",
        "sha256(:h::text::bytea)",
        "now() + interval '1 day'",
        f"'{rule.trace.rule_id}'",
        f"date '{rule.trace.parameter_effective_from}'",
        f"'{rule.trace.legal_reference}'",
        *("'training_body'", "'bench'", "null", "null", "'change'", "'/v1/me/cpf/holds'"),
    ]
    lines = [line.split("--")[0].rstrip() for line in statement.splitlines()]
    statement = "\n".join(line for line in lines if line)
    statement = re.sub(r"\$(\d+)", lambda m: f"({arguments[int(m.group(1)) - 1]})", statement)
    assert statement.startswith("with "), "the account is looked up once, in a first CTE"
    account = "bench_account as (select person_id from bench_accounts where n = :n), "
    statement = "with " + account + statement.removeprefix("with ")
    return (
        f"\\set n random(1, {accounts})\n"
        "\\set h random(1, 9000000000000000000)\n"
        f"{statement.rstrip(';')};\n"
    )


HOLD_FLOOR_TABLES = """
create schema hold_floor;
create table hold_floor.ledger_locks (like public.ledger_locks including all);
insert into hold_floor.ledger_locks select * from public.ledger_locks;
create table hold_floor.cpf_holds (
    like public.cpf_holds including all,
    foreign key (person_id) references hold_floor.ledger_locks (person_id));
create table hold_floor.ledger_entries (
    like public.ledger_entries including all,
    foreign key (person_id) references hold_floor.ledger_locks (person_id),
    foreign key (grant_id) references public.ledger_grants (id));
create table hold_floor.access_journal (like public.access_journal including all);
"""
"""``holds_pg_floor``'s tables: copies of cpa's own (bench database only), so that the floor
writes nothing ``ledger verify`` would see."""


async def _warm_up(base_url: str, tokens: list[str]) -> None:
    """Each worker verifies a token's signature once, then caches it: do that before timing."""
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        for _ in range(WARM_UP_PASSES):
            await asyncio.gather(
                *(http.get("/v1/me", headers={"Authorization": f"Bearer {t}"}) for t in tokens)
            )


def _holds_lua(tokens: list[str], path: str = "/v1/me/cpf/holds") -> str:
    """Rotate over the persons' tokens; a key unique across threads, rounds and runs."""
    table = ",\n".join(f'"{token}"' for token in tokens)
    return f"""
local tokens = {{
{table}
}}
local counter = 0
thread_id = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_id)
  prefix = string.format("%d-%d-%d", os.time(), thread_id, math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local token = tokens[math.random(1, #tokens)]
  local expires = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 7 * 86400)
  local body = '{{"amount_cents":1,"training_reference":"BENCH-' .. counter ..
    '","expires_at":"' .. expires .. '"}}'
  return wrk.format("POST", "{path}", {{
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. counter,
  }}, body)
end
"""


def scenarios(ctx: BenchContext) -> list[Scenario]:
    state = asyncio.run(_setup(ctx))
    print(f"# ledger: demo person has {state['demo_entries']} entries; "
          f"{len(state['hold_tokens'])} random accounts")  # fmt: skip
    return [
        Scenario(
            "account_read",
            "/v1/me/account",
            headers={"Authorization": f"Bearer {state['read_token']}"},
            baseline="account_floor",
            target=">= 0.90 x account_floor (issue 16)",
        ),
        Scenario(
            "holds_random",
            "/v1/me/cpf/holds",
            lua=_holds_lua(state["hold_tokens"]),
            connections=HOLD_CONNECTIONS,
            baseline="holds_floor",
            target=">= 0.4 x holds_floor, >= 1,000 holds/s",
        ),
        Scenario(
            "account_floor",
            "/v1/bench/read-floor",
            headers={"Authorization": f"Bearer {state['read_token']}"},
            baseline="health_ready",
            target="bound of account_read (not a target)",
        ),
        Scenario(
            "holds_floor",
            "/v1/bench/hold-floor",
            lua=_holds_lua(state["hold_tokens"], "/v1/bench/hold-floor"),
            connections=HOLD_CONNECTIONS,
            baseline="health_ready",
            target="server's part of a hold (not a target)",
        ),
        Scenario(
            "holds_pg_only",
            "",
            pgbench_script=_holds_pgbench(
                state["training_client_id"], len(state["hold_tokens"]), sql("create_hold_lean")
            ),
            connections=PG_ONLY_CLIENTS,
            baseline="holds_random",
            target="database alone (not a target)",
        ),
        Scenario(
            "holds_pg_floor",
            "",
            pgbench_script=_holds_pgbench(
                state["training_client_id"], len(state["hold_tokens"]), HOLD_DB_FLOOR
            ),
            connections=PG_ONLY_CLIENTS,
            baseline="holds_pg_only",
            target="the database's floor of a hold (not a target)",
        ),
        Scenario(
            "holds_db_floor",
            "/v1/bench/hold-db-floor",
            lua=_holds_lua(state["hold_tokens"], "/v1/bench/hold-db-floor"),
            connections=HOLD_CONNECTIONS,
            baseline="holds_random",
            target="the database's floor of a hold, over HTTP (not a target)",
        ),
        Scenario(
            "holds_hot",
            "/v1/me/cpf/holds",
            lua=_holds_lua([state["hot_token"]]),
            connections=HOLD_CONNECTIONS,
            baseline="health_ready",
            target=">= 300 holds/s",
        ),
    ]
