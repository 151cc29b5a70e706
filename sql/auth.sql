-- name: insert_oauth_client
-- Register a partner client (secret already hashed, or its public JWKS).
insert into oauth_clients
    (id, kind, name, redirect_uris, scopes, grant_types, auth_method, secret_hash, jwks,
     pairwise_salt, rate_limit_per_minute)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
on conflict (id) do nothing
returning id;

-- name: get_oauth_client
-- One client by client_id, disabled or not.
select id, kind, name, redirect_uris, scopes, grant_types, auth_method, secret_hash, jwks,
       pairwise_salt, rate_limit_per_minute, created_at, disabled_at
from oauth_clients
where id = $1;

-- name: list_oauth_clients
-- Every client, oldest first (no secret hash, no keys).
select id, kind, name, redirect_uris, scopes, grant_types, auth_method, rate_limit_per_minute,
       created_at, disabled_at
from oauth_clients
order by created_at, id;

-- name: disable_oauth_client
-- Disable a client: it can no longer authenticate nor be used at /oauth/authorize.
update oauth_clients set disabled_at = coalesce(disabled_at, now())
where id = $1
returning id, disabled_at;

-- name: update_demo_client_redirect_uris
-- Re-point a demo client (its id matches the demo prefix, $3) at this server's redirect URIs.
update oauth_clients set redirect_uris = $2
where id = $1 and id like $3 and redirect_uris is distinct from $2::text[]
returning id;

-- name: list_clients_disabled_since
-- Clients disabled since the previous poll (or since now on the first), overlapping by a minute
-- for disabling transactions that committed late; and the database's clock for the next poll.
select now() as polled_at,
       array(
           select id from oauth_clients
           where disabled_at > coalesce($1::timestamptz, now()) - interval '1 minute'
           order by disabled_at desc
           limit 1000
       ) as client_ids;

-- name: list_signing_keys
-- Signing keys still served (current first, then the one it replaced).
select kid, private_jwk_ciphertext, public_jwk, created_at
from signing_keys
where retired_at is null
order by created_at desc, kid
limit 2;

-- name: insert_signing_key
-- Add a new current signing key.
insert into signing_keys (kid, private_jwk_ciphertext, public_jwk) values ($1, $2, $3)
returning kid, created_at;

-- name: retire_signing_keys
-- Retire every key but the two newest (the current one and the one it replaced).
update signing_keys set retired_at = now()
where retired_at is null
  and kid not in (select kid from signing_keys order by created_at desc, kid limit 2)
returning kid;

-- name: upsert_person_password
-- Set a person's login password (argon2id hash).
insert into person_passwords (person_id, password_hash) values ($1, $2)
on conflict (person_id) do update set password_hash = excluded.password_hash, updated_at = now();

-- name: get_login_by_nir_hmac
-- The person and password hash behind a NIR's keyed hash, for the embedded login.
select p.id as person_id, w.password_hash
from persons p
join person_passwords w on w.person_id = p.id
where p.nir_hmac = $1;

-- name: insert_consent
-- Record a consent the citizen accepted.
insert into consents (person_id, client_id, scopes, expires_at, acr)
values ($1, $2, $3, $4, $5)
returning id, person_id, client_id, scopes, granted_at, expires_at, revoked_at, acr;

-- name: list_active_client_consents
-- A person's active consents to one client, newest first (the one to reuse covers the scopes).
select id, scopes, expires_at
from consents
where person_id = $1 and client_id = $2 and revoked_at is null and expires_at > $3
order by granted_at desc, id
limit $4;

-- name: insert_browser_session
-- Open a citizen's browser session (behind the hash of its cookie).
insert into browser_sessions
    (token_hash, person_id, acr, auth_time, created_at, idle_expires_at, expires_at)
values ($1, $2, $3, $4, $5, $6, $7);

-- name: resume_browser_session
-- A live session, its idle limit moved on to $3 (never past its absolute limit); none when
-- it has ended, lapsed idle or lived its lifetime.
update browser_sessions
set idle_expires_at = least($3, expires_at)
where token_hash = $1 and idle_expires_at > $2 and expires_at > $2
returning person_id, acr, auth_time;

-- name: delete_browser_session
-- End a session (logout).
delete from browser_sessions where token_hash = $1;

-- name: get_consent
-- One consent by id, with what the guard needs to map a token back to its person.
select id, person_id, client_id, scopes, granted_at, expires_at, revoked_at, acr
from consents
where id = $1;

-- name: list_person_consents
-- A person's consents, newest first, revoked and expired ones included (the history).
select c.id, c.client_id, o.name as client_name, o.kind as client_kind, c.scopes, c.granted_at,
       c.expires_at, c.revoked_at
from consents c
join oauth_clients o on o.id = c.client_id
where c.person_id = $1
order by c.granted_at desc, c.id
limit $2;

-- name: get_person_consent_view
-- One consent of a person as their consent list shows it (None when it is another person's).
select c.id, c.client_id, o.name as client_name, o.kind as client_kind, c.scopes, c.granted_at,
       c.expires_at, c.revoked_at
from consents c
join oauth_clients o on o.id = c.client_id
where c.id = $1 and c.person_id = $2;

-- name: revoke_person_consent
-- Revoke one of the person's own consents, once; nothing when it is not theirs.
update consents set revoked_at = now()
where id = $1 and person_id = $2 and revoked_at is null
returning id, client_id, expires_at, revoked_at;

-- name: get_person_consent
-- One consent of a person (None when it is another person's).
select id, client_id, expires_at, revoked_at from consents where id = $1 and person_id = $2;

-- name: revoke_consent_refresh_tokens
-- Revoke every live refresh token issued under a consent.
update refresh_tokens set revoked_at = now()
where consent_id = $1 and revoked_at is null;

-- name: insert_authorization_code
-- Store an authorization code (its hash) with the PKCE challenge and redirect URI.
insert into authorization_codes
    (code_hash, client_id, consent_id, redirect_uri, scopes, code_challenge, auth_time,
     expires_at)
values ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: get_authorization_code
-- A live (or used and remembered) authorization code with its consent, read before the grant is
-- validated.
select a.code_hash, a.client_id, a.consent_id, a.redirect_uri, a.scopes, a.code_challenge,
       a.auth_time, a.expires_at, a.used_at, a.issued_jti, a.issued_access_expires_at,
       a.issued_family_id, c.person_id, c.expires_at as consent_expires_at,
       c.revoked_at as consent_revoked_at, c.acr
from authorization_codes a
join consents c on c.id = a.consent_id
where a.code_hash = $1 and a.expires_at > now();

-- name: consume_authorization_code
-- Consume a code atomically (of concurrent redemptions exactly one gets the row) and remember
-- what its exchange issued for $6 seconds more, to revoke it should the code come back.
update authorization_codes
set used_at = now(), issued_jti = $3, issued_access_expires_at = $4, issued_family_id = $5,
    expires_at = now() + make_interval(secs => $6)
where code_hash = $1 and client_id = $2 and used_at is null and expires_at > now()
returning code_hash;

-- name: insert_refresh_token
-- Store a refresh token (its hash), bound to its consent and family.
insert into refresh_tokens (id, token_hash, family_id, client_id, consent_id, scopes, expires_at)
values ($1, $2, $3, $4, $5, $6, $7);

-- name: get_refresh_token
-- A refresh token by hash with its consent, read before the grant is validated.
select r.id, r.family_id, r.client_id, r.consent_id, r.scopes, r.expires_at, r.used_at,
       r.revoked_at, c.person_id, c.expires_at as consent_expires_at,
       c.revoked_at as consent_revoked_at, c.acr
from refresh_tokens r
join consents c on c.id = r.consent_id
where r.token_hash = $1;

-- name: rotate_refresh_token
-- Mark a refresh token used, atomically: of concurrent rotations exactly one succeeds.
update refresh_tokens set used_at = now()
where id = $1 and used_at is null and revoked_at is null and expires_at > now()
returning id;

-- name: revoke_refresh_token_family
-- Revoke every refresh token of a family (replay of a rotated token, or RFC 7009 revocation).
update refresh_tokens set revoked_at = now()
where family_id = $1 and revoked_at is null;

-- name: insert_pushed_request
-- Store a pushed authorization request (RFC 9126) behind the hash of its request_uri.
insert into pushed_requests (request_uri_hash, client_id, parameters, expires_at)
values ($1, $2, $3, $4);

-- name: get_pushed_request
-- A live pushed authorization request of this client.
select parameters from pushed_requests
where request_uri_hash = $1 and client_id = $2 and expires_at > now();

-- name: delete_pushed_request
-- A pushed request is used once: removed when the citizen decides.
delete from pushed_requests where request_uri_hash = $1;

-- name: insert_client_assertion_jti
-- Remember a client assertion's jti; no row back means it was already used (replay).
insert into client_assertion_jtis (client_id, jti, expires_at) values ($1, $2, $3)
on conflict do nothing
returning jti;

-- name: use_login_ticket
-- Remember a consent page's login ticket as used; no row back means it was used already.
insert into used_login_tickets (jti, expires_at) values ($1, $2)
on conflict do nothing
returning jti;

-- name: insert_token_revocation
-- Revoke one access token by its jti until it expires.
insert into revocations (jti, expires_at) values ($1, $2) returning id;

-- name: insert_consent_revocation
-- Revoke every access token issued under a consent (kept until the last one expires).
insert into revocations (consent_id, expires_at) values ($1, $2) returning id;

-- name: list_revocations_since
-- Revocations after a feed position that still matter (their tokens have not expired).
select id, jti, consent_id, expires_at
from revocations
where id > $1 and expires_at > now()
order by id;

-- name: insert_advisor_lookup
-- Record an advisor lookup behind the hash of the short-lived person reference.
insert into advisor_lookups (ref_hash, client_id, person_id, advisor_id, purpose, expires_at)
values ($1, $2, $3, $4, $5, $6)
returning created_at, expires_at;

-- name: get_advisor_lookup
-- A live person reference issued to this client.
select person_id, advisor_id, purpose, expires_at
from advisor_lookups
where ref_hash = $1 and client_id = $2 and expires_at > now();

-- name: insert_access_journal_entry
-- Append one access to a person's data to the journal.
insert into access_journal
    (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
values ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: insert_access_journal_lines
-- Append a batch of reads to the journals (cpa.auth.access_log.ReadAccessLog), in their order, in
-- one round trip. The commit does not wait for the WAL flush (synchronous_commit off for this
-- transaction only; the WAL writer flushes within 200 ms): a flush per batch cost more than
-- the batch (measured). A crash of the database in that window can lose lines of reads, never
-- a change's line (written in the change's own transaction).
with async_commit as materialized (
    select set_config('synchronous_commit', 'off', true)
)
insert into access_journal
    (person_id, occurred_at, client_id, client_kind, client_name, advisor_id, purpose, action,
     route)
select line.*
from async_commit,
     unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[]) as line;

-- name: request_access_journal_catch_up
-- A reader of an access journal asks every writer of read lines for the lines it holds: a new
-- number, notified to them (delivered when this statement commits).
select n, pg_notify('cpa_access_journal_catch_up', n::text)
from (select nextval('access_journal_catch_up_seq') as n) as taken;

-- name: count_access_journal_writers_behind
-- Live writers of read lines that have not yet written every line they held when number $1
-- was notified (a writer whose listening backend is gone, its process with it, counts no more).
select count(*)
from access_journal_writers w
join pg_stat_activity a on a.pid = w.backend_pid and a.backend_start = w.backend_start
where w.caught_up_seq < $1;

-- name: register_access_journal_writer
-- A writer of read lines joins, on its listening connection, caught up with every number
-- taken so far (it holds no line yet); the rows of writers gone are dropped.
with gone as (
    delete from access_journal_writers w
    where not exists (select 1 from pg_stat_activity a
                      where a.pid = w.backend_pid and a.backend_start = w.backend_start)
)
insert into access_journal_writers (backend_pid, backend_start, caught_up_seq)
select pid, backend_start,
       (select case when is_called then last_value else 0 end from access_journal_catch_up_seq)
from pg_stat_activity where pid = pg_backend_pid()
on conflict (backend_pid) do update
set backend_start = excluded.backend_start, caught_up_seq = excluded.caught_up_seq;

-- name: mark_access_journal_caught_up
-- This writer has written every line it held when number $1 was notified.
update access_journal_writers set caught_up_seq = greatest(caught_up_seq, $1)
where backend_pid = pg_backend_pid();

-- name: unregister_access_journal_writer
-- A writer stops (its lines all written).
delete from access_journal_writers where backend_pid = pg_backend_pid();

-- name: list_access_journal
-- A page of a person's access journal, newest first, before a cursor (0 = from the newest).
select id, occurred_at, client_id, client_kind, client_name, advisor_id, purpose, action, route
from access_journal
where person_id = $1 and ($2::bigint = 0 or id < $2)
order by id desc
limit $3;

-- name: purge_expired_auth_rows
-- Forget what the authorization server keeps only until it expires: codes, pushed requests,
-- client assertion ids and used login tickets (replay protection), revocations (of tokens
-- and consents that have expired anyway) and browser sessions past either of their limits. How many rows, all tables together.
with codes as (
    delete from authorization_codes where expires_at <= $1 returning 1
), pushed as (
    delete from pushed_requests where expires_at <= $1 returning 1
), assertions as (
    delete from client_assertion_jtis where expires_at <= $1 returning 1
), revoked as (
    delete from revocations where expires_at <= $1 returning 1
), tickets as (
    delete from used_login_tickets where expires_at <= $1 returning 1
), sessions as (
    delete from browser_sessions where expires_at <= $1 or idle_expires_at <= $1 returning 1
)
select (select count(*) from codes) + (select count(*) from pushed)
       + (select count(*) from assertions) + (select count(*) from revoked)
       + (select count(*) from tickets) + (select count(*) from sessions);
