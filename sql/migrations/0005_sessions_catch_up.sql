-- Issue 15 points 3, 4 and 5.
--
-- A training body lists the holds it created, newest first (reconciling after its own crash).
create index cpf_holds_client_idx on cpf_holds (client_id, created_at desc, id desc);

-- The citizen's browser session at /oauth/authorize: who logged in, until when. The cookie
-- holds a random token; only its hash is kept here, so a copy of this table opens nothing.
-- Kept server-side (not a sealed cookie) so that logging out, or the idle limit, ends the
-- session at once for every copy of the cookie. Each use moves idle_expires_at, never past
-- expires_at (the absolute lifetime).
create table browser_sessions (
    token_hash bytea primary key,
    person_id uuid not null references persons (id),
    acr text not null,
    auth_time timestamptz not null,
    created_at timestamptz not null,
    idle_expires_at timestamptz not null,
    expires_at timestamptz not null,
    constraint browser_sessions_idle_within_lifetime check (idle_expires_at <= expires_at)
);
create index browser_sessions_expiry_idx on browser_sessions (expires_at);

-- The server processes that batch the access journal lines of reads, each behind the
-- PostgreSQL backend of the connection on which it listens for catch-up requests (a process
-- gone, its backend is gone: its row no longer counts). A reader of an access journal takes a
-- number from the sequence, notifies the writers, and waits until every live writer has
-- written all its waiting lines and recorded a number at least as large (caught_up_seq).
create sequence access_journal_catch_up_seq;
create table access_journal_writers (
    backend_pid integer primary key,
    backend_start timestamptz not null,
    caught_up_seq bigint not null default 0
);
