-- The whole current schema of cpa: the source of truth, kept equal to the migrations applied
-- in order (tests/integration/test_schema.py builds a database each way and compares them).
-- Before the first release the migrations were squashed into 0001_baseline, this file's copy.

-- Persons registry: one row per person holding a CPA.
-- The NIR is never stored in clear: nir_ciphertext is AES-256-GCM (key outside the database),
-- nir_hmac a keyed SHA-256 used to look a person up by NIR.
create table persons (
    id uuid primary key default gen_random_uuid(),
    nir_hmac bytea not null,
    nir_ciphertext bytea not null,
    birth_date date not null,
    death_on date,
    full_rate_retirement_on date,
    created_at timestamptz not null default now(),
    constraint persons_nir_hmac_key unique (nir_hmac),
    constraint persons_nir_hmac_length check (octet_length(nir_hmac) = 32),
    constraint persons_death_after_birth check (death_on is null or death_on >= birth_date)
);


-- ==== OAuth 2 authorization server ==========================================================

-- OAuth 2 authorization server (issue 4): partner clients, signing keys, citizen credentials,
-- consents, codes, refresh tokens, pushed requests, revocations, advisor lookups and the
-- access journal. Secrets are stored only as hashes: argon2id for client secrets and
-- passwords, SHA-256 for high-entropy random tokens (codes, refresh tokens, references).

-- Partner clients. A client authenticates with a secret (argon2id hash) or with signed JWT
-- assertions verified against its public keys (private_key_jwt, RFC 7523), never both.
create table oauth_clients (
    id text primary key,
    kind text not null,
    name text not null,
    redirect_uris text[] not null default '{}',
    scopes text[] not null,
    grant_types text[] not null,
    auth_method text not null,
    secret_hash text,
    jwks jsonb,
    pairwise_salt bytea not null,
    rate_limit_per_minute integer not null default 6000,
    created_at timestamptz not null default now(),
    disabled_at timestamptz,
    constraint oauth_clients_kind_known
        check (kind in ('portal', 'training_body', 'advisor_tool', 'operator')),
    constraint oauth_clients_auth_method_known
        check (auth_method in ('client_secret_basic', 'private_key_jwt')),
    constraint oauth_clients_credentials_match_method check (
        (auth_method = 'client_secret_basic' and secret_hash is not null and jwks is null)
        or (auth_method = 'private_key_jwt' and jwks is not null and secret_hash is null)
    ),
    constraint oauth_clients_pairwise_salt_length check (octet_length(pairwise_salt) = 32),
    constraint oauth_clients_rate_limit_positive check (rate_limit_per_minute > 0)
);

-- Token signing keys (ES256). The private JWK is AES-256-GCM encrypted with a key derived
-- from the master key file (outside the database). The JWKS serves the current key and the
-- one it replaced; older keys are retired.
create table signing_keys (
    kid text primary key,
    private_jwk_ciphertext bytea not null,
    public_jwk jsonb not null,
    created_at timestamptz not null default now(),
    retired_at timestamptz
);
create index signing_keys_created_at_idx on signing_keys (created_at desc);

-- The embedded citizen login: one argon2id password hash per person.
create table person_passwords (
    person_id uuid primary key references persons (id),
    password_hash text not null,
    updated_at timestamptz not null default now()
);

-- Consents: who (person, client), what (scopes), when, until when. Append-only history: a
-- row is never deleted and only revoked_at may be set, once (trigger below).
create table consents (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    client_id text not null references oauth_clients (id),
    scopes text[] not null,
    granted_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz,
    acr text not null,
    constraint consents_expires_after_granted check (expires_at > granted_at),
    constraint consents_revoked_after_granted check (revoked_at is null or revoked_at >= granted_at)
);
create index consents_person_idx on consents (person_id, granted_at desc);

create function consents_append_only() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'consents are kept: revoke instead of deleting'
            using errcode = 'integrity_constraint_violation', constraint = 'consents_append_only';
    end if;
    if old.revoked_at is not null
       or new.id <> old.id or new.person_id <> old.person_id or new.client_id <> old.client_id
       or new.scopes <> old.scopes or new.granted_at <> old.granted_at
       or new.expires_at <> old.expires_at or new.acr <> old.acr then
        raise exception 'a consent is only ever revoked, once'
            using errcode = 'integrity_constraint_violation', constraint = 'consents_append_only';
    end if;
    return new;
end;
$$;

create trigger consents_append_only
before update or delete on consents
for each row execute function consents_append_only();

-- Authorization codes: single use, consumed atomically (update … returning). A used code is
-- kept a day with the tokens its exchange issued, so that a replay revokes them.
create table authorization_codes (
    code_hash bytea primary key,
    client_id text not null references oauth_clients (id),
    consent_id uuid not null references consents (id),
    redirect_uri text not null,
    scopes text[] not null,
    code_challenge text not null,
    auth_time timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    issued_jti text,
    issued_access_expires_at timestamptz,
    issued_family_id uuid
);

-- Refresh tokens: rotated on use (used_at set atomically); a family shares the first token's
-- id, so a replayed, already rotated token revokes the whole family.
create table refresh_tokens (
    id uuid primary key default gen_random_uuid(),
    token_hash bytea not null,
    family_id uuid not null,
    client_id text not null references oauth_clients (id),
    consent_id uuid not null references consents (id),
    scopes text[] not null,
    issued_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz,
    constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_consent_idx on refresh_tokens (consent_id);
create index refresh_tokens_family_idx on refresh_tokens (family_id);

-- Pushed authorization requests (RFC 9126): the parameters, behind a one-time request_uri.
create table pushed_requests (
    request_uri_hash bytea primary key,
    client_id text not null references oauth_clients (id),
    parameters jsonb not null,
    expires_at timestamptz not null
);

-- Client assertion ids already seen (RFC 7523 replay protection), kept until they expire.
create table client_assertion_jtis (
    client_id text not null,
    jti text not null,
    expires_at timestamptz not null,
    constraint client_assertion_jtis_pkey primary key (client_id, jti)
);

-- Login tickets of consent pages already used (each is used once), kept until they expire.
create table used_login_tickets (
    jti text primary key,
    expires_at timestamptz not null
);

-- Revocations of access tokens (by jti) and of consents: an append-only feed each worker
-- polls by id, so a revocation reaches every process without a query per request.
create table revocations (
    id bigint generated always as identity primary key,
    jti text,
    consent_id uuid references consents (id),
    expires_at timestamptz not null,
    revoked_at timestamptz not null default now(),
    constraint revocations_one_target check ((jti is null) <> (consent_id is null))
);
create index revocations_expires_at_idx on revocations (expires_at);

-- Advisor lookups: a short-lived reference to a person, bound to one advisor tool, one
-- advisor and one declared purpose.
create table advisor_lookups (
    ref_hash bytea primary key,
    client_id text not null references oauth_clients (id),
    person_id uuid not null references persons (id),
    advisor_id text not null,
    purpose text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    constraint advisor_lookups_purpose_known check (purpose in (
        'career_guidance', 'training_funding', 'hardship_prevention',
        'employment_support', 'retirement_planning'
    )),
    constraint advisor_lookups_advisor_id_length check (char_length(advisor_id) between 1 and 64)
);

-- The access journal: every read or change of a person's data by a partner, for the person
-- to read (GET /v1/me/access-log). Append-only.
create table access_journal (
    id bigint generated always as identity primary key,
    person_id uuid not null,  -- no foreign key: persons are never deleted (0006)
    occurred_at timestamptz not null default now(),
    client_id text not null,
    client_kind text not null,
    client_name text not null,
    advisor_id text,
    purpose text,
    action text not null,
    route text not null,
    constraint access_journal_action_known check (action in ('read', 'change', 'lookup'))
);
create index access_journal_person_idx on access_journal (person_id, id desc);

-- ==== Rules received as data ===============================================================
-- Each rule is written once, in cpa/rules/; these constants are its generated copy, proven
-- equal to it by tests/ledger/test_rules_in_sql.py.

-- The first year each account counts (cpa/rules/accounts.py: cpf.opened_on, cec.opened_on,
-- c2p.opened_on) and the last year anyone may declare (a bound, not law).
create function account_first_year(p_account text) returns integer
language sql immutable parallel safe as $$
    select case p_account when 'cpf' then 2015 when 'cec' then 2017 when 'c2p' then 2015 end
$$;

create function account_last_year() returns integer
language sql immutable parallel safe as $$
    select 2100
$$;

-- The unit of each ledger pot (cpa/rules/accounts.py: POT_UNITS); null for an unknown pot.
-- PL/pgSQL, so never inlined: the CHECK constraints of ledger_entries call it, and
-- PostgreSQL builds a table's CHECKs again for each statement that writes it; a SQL body
-- would be read back and planned there twice per statement (0009, issue 16).
create function pot_unit(p_pot text) returns text
language plpgsql immutable parallel safe as $$
begin
    return case p_pot
        when 'cpf_statutory' then 'cents'
        when 'cpf_hours' then 'hours'
        when 'cec' then 'cents'
        when 'cec_hours' then 'hours'
        when 'abondement' then 'cents'
        when 'dotation' then 'cents'
        when 'cpf_held' then 'cents'
        when 'c2p' then 'points'
    end;
end;
$$;

-- ============================================================================================
-- Accounts and ledger (issue 5): declarations in, rights credited, holds, idempotency, services.
--
-- Units: every amount column states its unit; a ledger entry's unit follows its pot
-- (cents for euro pots, hours for the 2015–2018 stocks, points for C2P).

-- One row per person with a ledger: the serialisation point of every write to that person
-- (SELECT … FOR UPDATE), so that a hold can never overdraw whatever races.
--
-- The ledger's rows reference this row, not the person: a foreign key to persons made each
-- inserted entry, hold and balance row lock the person's row too (FOR KEY SHARE), a WAL record
-- and a dirtied page of persons per hold. The same key on ledger_locks finds that row
-- already locked, more strongly, by the same transaction, and writes nothing.
--
-- It also carries the two balances the common hold moves (issue 16), so that one conditional
-- UPDATE of this row takes the lock, checks and debits: statutory_cents and held_cents mirror
-- the cpf_statutory and cpf_held rows of ledger_balances (which stay the truth every reader
-- sees), moved by every writer in the statement that moves those rows (create_hold_lean,
-- cpf_hold_create, append_entries, add_chunk_balances) and checked by `ledger verify`.
--
-- And it is the account as the read sends it (issue 16 point 3, 0008_account_row.sql): every
-- person has one, created with them, holding the summary document (kept by the triggers of
-- the account summary below), the CEC and C2P balances and the grants' euros by debit source
-- (abondement_cents: abondements not earmarked; earmarked_cents: dotations and earmarked
-- abondements), moved by a trigger on their balance rows, the earliest use-by date of a grant
-- that still holds euros, and next_pending_expiry, a lower bound of the earliest pending
-- hold's expiry (lowered by every hold, settled by the read that finds it past). The read
-- takes this row alone; `ledger verify` compares it with account_row_of.
create table ledger_locks (
    person_id uuid primary key references persons (id),
    created_at timestamptz not null default now(),
    statutory_cents bigint not null default 0,
    held_cents bigint not null default 0,
    next_pending_expiry timestamptz,
    cec_cents bigint not null default 0,
    c2p_points bigint not null default 0,
    abondement_cents bigint not null default 0,
    earmarked_cents bigint not null default 0,
    grants_use_by_min date,
    summary json not null default '{}'::json,
    -- The earliest of the person's death and full-rate retirement dates (0009): kept with
    -- the summary by account_summary_refresh, read by the common hold.
    stops_on date,
    constraint ledger_locks_held_cents_nonnegative check (held_cents >= 0)
);

-- Abondements and employer dotations: each is its own sub-pot (outside the ceilings),
-- optionally earmarked to a training and usable until a deadline (décret 2025-341).
create table ledger_grants (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    pot text not null,
    financer text not null,
    earmarked boolean not null default false,
    training_reference text,
    use_by date,
    created_at timestamptz not null default now(),
    constraint ledger_grants_pot_known check (pot in ('abondement', 'dotation'))
);
create index ledger_grants_person_idx on ledger_grants (person_id);

-- Append-only: a balance changes only by appending an entry (trigger below).
create table ledger_entries (
    id bigint generated always as identity primary key,
    person_id uuid not null references ledger_locks (person_id),
    pot text not null,
    grant_id uuid references ledger_grants (id),
    kind text not null,
    amount bigint not null,
    unit text not null,
    effective_on date not null,
    correlation_id uuid not null,
    hold_id uuid,
    credit_year integer,
    rule_id text,
    parameter_effective_from date,
    legal_reference text,
    trace jsonb,
    declaration_id uuid,
    client_id text,
    token_jti text,
    idempotency_key text,
    created_at timestamptz not null default now(),
    constraint ledger_entries_amount_nonzero check (amount <> 0),
    constraint ledger_entries_pot_known check (pot_unit(pot) is not null),
    constraint ledger_entries_kind_known check (
        kind in ('accrual', 'adjustment', 'conversion', 'hold', 'hold_post', 'hold_void',
                 'hold_expire', 'abondement', 'dotation', 'c2p_use')
    ),
    constraint ledger_entries_unit_matches_pot check (unit = pot_unit(pot)),
    constraint ledger_entries_grant_matches_pot check (
        (grant_id is not null) = (pot in ('abondement', 'dotation'))
    )
);
create index ledger_entries_person_idx on ledger_entries (person_id, id desc);

create function ledger_entries_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'ledger entries are append-only (% refused)', tg_op
        using errcode = 'restrict_violation', constraint = 'ledger_entries_append_only';
end;
$$;

create trigger ledger_entries_append_only
    before update or delete on ledger_entries
    for each row execute function ledger_entries_refuse_change();

create trigger ledger_entries_no_truncate
    before truncate on ledger_entries
    for each statement execute function ledger_entries_refuse_change();

-- The sum of a person's entries per pot (and grant), kept in the same transaction as the
-- entries; `python -m cpa ledger verify` proves the two agree. Statutory, CEC and C2P
-- balances may be negative: a debt left by a negative adjustment (OQ-5).
create table ledger_balances (
    person_id uuid not null references ledger_locks (person_id),
    pot text not null,
    grant_id uuid references ledger_grants (id),
    balance bigint not null,
    unit text not null,
    constraint ledger_balances_key unique nulls not distinct (person_id, pot, grant_id),
    constraint ledger_balances_no_overdraft check (
        balance >= 0 or pot in ('cpf_statutory', 'cpf_hours', 'cec', 'cec_hours', 'c2p')
    )
);

-- Two-phase debits of CPF rights: pending → posted | voided | expired, never back.
create table cpf_holds (
    id uuid primary key,
    person_id uuid not null references ledger_locks (person_id),
    amount_cents bigint not null,
    training_reference text not null,
    expires_at timestamptz not null,
    status text not null default 'pending',
    posted_cents bigint,
    client_id text,
    token_jti text,
    created_at timestamptz not null default now(),
    closed_at timestamptz,
    -- The key the hold was created under (recorded even unclaimed, as on its entries) and,
    -- claimed (Idempotency-Key over HTTP), the request's digest and the key's end of life:
    -- a repeat is answered from this row (issue 16: no idempotency_keys row per hold).
    idempotency_key text,
    request_sha256 bytea,
    key_expires_at timestamptz,
    constraint cpf_holds_amount_positive check (amount_cents > 0),
    constraint cpf_holds_status_known check (
        status in ('pending', 'posted', 'voided', 'expired')
    ),
    constraint cpf_holds_posted_within_held check (
        posted_cents is null or (posted_cents > 0 and posted_cents <= amount_cents)
    ),
    constraint cpf_holds_closed_when_final check ((status = 'pending') = (closed_at is null))
);
create index cpf_holds_person_idx on cpf_holds (person_id, created_at desc);
create index cpf_holds_pending_expiry_idx on cpf_holds (expires_at) where status = 'pending';
create unique index cpf_holds_idempotency_key on cpf_holds (client_id, idempotency_key)
    where request_sha256 is not null;

-- Where a hold took its euros from, in debit order (seq), so a release returns them there.
create table cpf_hold_allocations (
    hold_id uuid not null references cpf_holds (id),
    seq integer not null,
    pot text not null,
    grant_id uuid references ledger_grants (id),
    amount_cents bigint not null,
    rule_id text not null,  -- the debit order the allocation followed (cpf.debit.order)
    parameter_effective_from date not null,
    legal_reference text not null,
    constraint cpf_hold_allocations_pkey primary key (hold_id, seq),
    constraint cpf_hold_allocations_amount_positive check (amount_cents > 0)
);

-- Where each hold took its euros from, in debit order (seq): its allocation rows, or, for a
-- hold that has none, its whole amount from statutory rights. The lean hold (issue 16,
-- create_hold_lean) writes no allocation row, its rule trace being on its two entries; the
-- debit order's hold (cpf_hold_create) always writes at least one. Every reader of
-- allocations reads this view, never the table alone.
create view cpf_hold_draws as
select a.hold_id, a.seq, a.pot, a.grant_id, a.amount_cents
from cpf_hold_allocations a
union all
select h.id, 1, 'cpf_statutory', null::uuid, h.amount_cents
from cpf_holds h
where not exists (select from cpf_hold_allocations a where a.hold_id = h.id);

-- A hold as the API shows it, its allocations as JSON (get_hold, list_holds,
-- list_client_holds: one definition).
create view cpf_holds_shown as
select h.id, h.person_id, h.amount_cents, h.training_reference, h.expires_at, h.status,
       h.posted_cents, h.created_at, h.closed_at, h.client_id,
       (select coalesce(jsonb_agg(jsonb_build_object(
                   'pot', a.pot, 'grant_id', a.grant_id, 'amount_cents', a.amount_cents)
               order by a.seq), '[]')::text
        from cpf_hold_draws a where a.hold_id = h.id) as allocations
from cpf_holds h;

-- What was credited for one person, year and account, and from which inputs: a re-run with
-- the same inputs changes nothing; changed inputs (a correction) post the difference.
create table ledger_credits (
    person_id uuid not null references persons (id),
    year integer not null,
    account text not null,
    unit text not null,
    amount bigint not null,
    balance_before bigint not null,
    inputs_sha256 bytea not null,
    credited_on date not null,
    constraint ledger_credits_pkey primary key (person_id, year, account),
    constraint ledger_credits_account_known check (account in ('cpf', 'cec', 'c2p'))
);

-- C2P uses: what the points bought (euros, part-time days, retirement quarters).
create table c2p_conversions (
    id uuid primary key,
    person_id uuid not null references persons (id),
    use text not null,
    points integer not null,
    reserved_points_used integer not null,
    amount_cents bigint,
    part_time_days integer,
    retirement_quarters integer,
    training_reference text,
    grant_id uuid references ledger_grants (id),
    converted_on date not null,
    created_at timestamptz not null default now(),
    constraint c2p_conversions_points_positive check (points > 0),
    constraint c2p_conversions_use_known check (
        use in ('training', 'reconversion', 'part_time', 'retirement')
    )
);
create index c2p_conversions_person_idx on c2p_conversions (person_id);

-- Declarations: a new revision for the same key is a correction; the latest revision counts.
create table activity_declarations (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    year integer not null,
    revision integer not null,
    body jsonb not null,
    client_id text,
    created_at timestamptz not null default now(),
    constraint activity_declarations_revision_key unique (person_id, year, revision),
    constraint activity_declarations_year_range
        check (year between account_first_year('cpf') and account_last_year())
);

create table c2p_exposure_declarations (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    year integer not null,
    contract_ref text not null,
    revision integer not null,
    body jsonb not null,
    client_id text,
    created_at timestamptz not null default now(),
    constraint c2p_exposure_declarations_revision_key
        unique (person_id, year, contract_ref, revision),
    constraint c2p_exposure_declarations_year_range
        check (year between account_first_year('c2p') and account_last_year())
);

-- CEC engagements are declared, then validated (or refused) by the organisation.
create table cec_engagements (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    year integer not null,
    organisation text not null,
    body jsonb not null,
    status text not null default 'declared',
    client_id text,
    created_at timestamptz not null default now(),
    decided_at timestamptz,
    constraint cec_engagements_status_known check (status in ('declared', 'validated', 'refused')),
    constraint cec_engagements_year_range
        check (year between account_first_year('cec') and account_last_year())
);
create index cec_engagements_person_year_idx on cec_engagements (person_id, year);

-- Idempotency-Key store: same key + same request → the stored response, for 24 h at least.
create table idempotency_keys (
    client_id text not null,
    key text not null,
    request_sha256 bytea not null,
    response bytea not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    constraint idempotency_keys_pkey primary key (client_id, key),
    constraint idempotency_keys_key_length check (length(key) between 1 and 255)
);
create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);

-- Linked services: a catalogue, and the links a consenting partner made for a person.
create table linked_services (
    id text primary key,
    name text not null,
    category text not null,
    provider_client_id text,
    url text not null,
    constraint linked_services_category_known check (
        category in ('skills_assessment', 'career_advice', 'vae', 'payslip_safe', 'job_search',
                     'training', 'other')
    )
);

create table service_links (
    person_id uuid not null references persons (id),
    service_id text not null references linked_services (id),
    client_id text,
    created_at timestamptz not null default now(),
    constraint service_links_pkey primary key (person_id, service_id)
);

-- A person's pots on a date, each with whether a CPF debit may draw on it and its place in the
-- debit order, which the caller passes (p_order: cpa/rules/debit.py, parameter cpf.debit.order,
-- décret 2025-1156, CT R6333-3). A pot is named in the order by its source: `earmarked` for a
-- dotation or an abondement earmarked to the account, `abondement` for the other abondements,
-- else its own name; a pot whose source is not in the order funds nothing, and after the
-- holder's full-rate retirement only the sources of p_after_retirement do (cpa/rules/debit.py,
-- cpf.debit.after_retirement, CT L6323-2: CEC rights). Holds draw on the
-- usable pots in draw_key order (cpf_hold_create), the account read sums them (what is
-- available) in the same scan that lists the balances.
--
-- Choices where the texts leave it open: an earmarked grant tied to a training funds only that
-- training (p_any_training: what any training could use, the account's "available"); a grant
-- past its use_by date funds nothing; after death nothing funds a debit; a negative statutory
-- or CEC balance (a debt, OQ-5) funds nothing and does not block the other pots.
create function pots_for_debit(
    p_person_id uuid, p_on date, p_training_reference text, p_any_training boolean, p_order text[],
    p_after_retirement text[]
) returns table (pot text, grant_id uuid, balance bigint, usable boolean, draw_key text)
language sql stable as $$
    -- draw_key sorts (in the "C" collation) as the debit draws: place in the order, deadline,
    -- grant id. A key rather than a rank, so that a reader that only sums pays for no sort.
    select b.pot, b.grant_id, b.balance,
           coalesce(
               s.place is not null
               and b.balance > 0
               and (p.death_on is null or p.death_on > p_on)
               and (p.full_rate_retirement_on is null or p.full_rate_retirement_on > p_on
                    or s.source = any(p_after_retirement))
               and (g.use_by is null or g.use_by >= p_on)
               and (p_any_training or g.training_reference is null
                    or g.training_reference = p_training_reference),
               false),
           concat_ws('|',
               to_char(s.place, 'FM000'),
               to_char(coalesce(g.use_by, '9999-12-31'::date), 'YYYY-MM-DD'),
               b.grant_id::text) collate "C"
    from persons p
    join ledger_balances b on b.person_id = p.id
    left join ledger_grants g on g.id = b.grant_id
    cross join lateral (
        select case when b.pot = 'dotation' or (b.pot = 'abondement' and g.earmarked)
                    then 'earmarked' else b.pot end as source
    ) as k
    cross join lateral (select k.source, array_position(p_order, k.source) as place) as s
    where p.id = p_person_id
$$;

-- Holds in one statement (issue 5 targets): the person's ledger lock, the idempotency key's
-- lookup, the debit order, the hold, its entries and balances and the access journal line, in
-- one call, so the person's lock is held for one statement and its commit only, never across
-- round trips to the application. The debit order and its trace (rule id, effective date,
-- legal reference, recorded on every allocation and hold entry) are the rule's
-- (cpa/rules/debit.py), passed in by the caller. The common hold takes a shorter path
-- (create_hold_lean, sql/ledger.sql) and comes here when it cannot.
--
-- The key and request digest are written in the hold row (issue 16), and a refused hold
-- writes none. The key is looked up after the person's lock: a repeat of the same request on
-- the same person waits for that lock, then sees the first one's hold and answers it. A
-- request under the same key on another person (a conflict) can still race to the hold's
-- insert: it then waits for the other transaction, finds the key taken (unique_violation on
-- cpf_holds_idempotency_key), which rolls the whole statement back; create_hold answers it
-- as a 409 idempotency conflict.
--
-- The lock is taken by its own statement and the balances read by the next: a single
-- `select … for update of a` joined to the balances would read them from the snapshot taken
-- before waiting for the lock (a row that was only locked, not updated, is not re-read), and
-- the statutory pot, which may be negative (a debt), would then be overdrawn by racing holds.
create function cpf_hold_create(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_request_sha256 bytea, p_key_expires_at timestamptz,
    p_debit_order text[], p_debit_after_retirement text[], p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text, p_journal_client_id text,
    p_journal_client_kind text, p_journal_client_name text, p_journal_advisor_id text,
    p_journal_purpose text, p_journal_action text, p_journal_route text
) returns table (outcome text, hold text, available_cents bigint)
language plpgsql as $$
declare
    v_locked boolean;
    v_known text;
    v_response text;
    v_draw record;
begin
    -- 1. The person's lock, then (a new snapshot) the key: a repeat (or a clash) answers from
    -- the hold that has it (or the store) and writes nothing.
    perform 1 from ledger_locks a where a.person_id = p_person_id for update;
    v_locked := found;  -- no ledger yet: no rights to hold
    if p_request_sha256 is not null then  -- a key to claim (else the key is only recorded)
        select k.outcome, k.hold into v_known, v_response
        from cpf_hold_key_used(p_client_id, p_idempotency_key, p_request_sha256, p_now) as k;
        if v_known is not null then
            return query select v_known, v_response, null::bigint;
            return;
        end if;
    end if;
    -- 2. The debit order; nothing written when the rights do not suffice.
    select * into v_draw
    from cpf_hold_allocation(p_person_id, p_on, p_training_reference, p_amount_cents,
                             p_debit_order, p_debit_after_retirement);
    if not v_locked or v_draw.missing_cents > 0 then
        return query select
            case when exists (select 1 from cpf_holds h
                              where h.person_id = p_person_id and h.status = 'pending'
                                and h.expires_at <= p_now)
                 then 'lapsed' else 'insufficient' end,
            null::text, case when v_locked then p_amount_cents - v_draw.missing_cents else 0 end;
        return;
    end if;
    -- 3. The writes (the key in the hold row) and the journal line.
    v_response := cpf_hold_write(
        p_person_id, p_hold_id, p_amount_cents, p_training_reference, p_expires_at, p_now, p_on,
        p_client_id, p_token_jti, p_idempotency_key, p_request_sha256, p_key_expires_at,
        v_draw.pots, v_draw.grants, v_draw.amounts, p_rule_id, p_parameter_effective_from,
        p_legal_reference);
    if p_journal_action is not null then
        insert into access_journal
            (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
        values (p_person_id, p_journal_client_id, p_journal_client_kind, p_journal_client_name,
                p_journal_advisor_id, p_journal_purpose, p_journal_action, p_journal_route);
    end if;
    return query select 'created', v_response, null::bigint;
end;
$$;

-- cpf_hold_create's step 1: what a claimed key already says, under the person's lock:
-- 'replayed' (the same request: the hold as it was created) or 'conflict' (another request),
-- no row when the key is free. A hold keeps its key while the key lives (KEY_LIFETIME,
-- cpa/idempotency); past that the key is free again, and the hold gives it up here.
-- idempotency_keys holds the keys of other writes, and of holds made before issue 16.
create function cpf_hold_key_used(
    p_client_id text, p_key text, p_request_sha256 bytea, p_now timestamptz
) returns table (outcome text, hold text)
language plpgsql as $$
declare
    v_hold_id uuid;
    v_same boolean;
    v_alive boolean;
    v_response bytea;
begin
    select h.id, h.request_sha256 = p_request_sha256, h.key_expires_at > p_now
    into v_hold_id, v_same, v_alive
    from cpf_holds h
    where h.client_id = p_client_id and h.idempotency_key = p_key
      and h.request_sha256 is not null;
    if v_alive then
        return query select case when v_same then 'replayed' else 'conflict' end,
                            cpf_hold_as_created(v_hold_id);
        return;
    elsif v_hold_id is not null then
        update cpf_holds set request_sha256 = null where id = v_hold_id;
    end if;
    select k.request_sha256 = p_request_sha256, k.response into v_same, v_response
    from idempotency_keys k
    where k.client_id = p_client_id and k.key = p_key and k.expires_at > p_now;
    if found then
        return query select case when v_same then 'replayed' else 'conflict' end,
                            convert_from(v_response, 'UTF8');
    end if;
end;
$$;

-- A hold as its creation answered it (pending, its allocations in debit order): what a
-- repeat of the request that created it gets.
create function cpf_hold_as_created(p_hold_id uuid) returns text
language sql stable as $$
    select jsonb_build_object(
        'id', h.id, 'person_id', h.person_id, 'amount_cents', h.amount_cents,
        'training_reference', h.training_reference, 'expires_at', h.expires_at,
        'status', 'pending', 'posted_cents', null, 'created_at', h.created_at,
        'closed_at', null, 'client_id', h.client_id,
        'allocations', (select jsonb_agg(jsonb_build_object(
                                 'pot', a.pot, 'grant_id', a.grant_id,
                                 'amount_cents', a.amount_cents) order by a.seq)
                        from cpf_hold_draws a where a.hold_id = h.id))::text
    from cpf_holds h
    where h.id = p_hold_id
$$;

-- cpf_hold_create's step 2: what the hold takes from each usable pot, in the debit order
-- (pots_for_debit with the rule's order), as parallel arrays, and the cents still missing.
create function cpf_hold_allocation(
    p_person_id uuid, p_on date, p_training_reference text, p_amount_cents bigint,
    p_debit_order text[], p_debit_after_retirement text[],
    out pots text[], out grants uuid[], out amounts bigint[], out missing_cents bigint
)
language plpgsql as $$
declare
    v_source record;
    v_take bigint;
begin
    pots := '{}';
    grants := '{}';
    amounts := '{}';
    missing_cents := p_amount_cents;
    for v_source in
        select s.pot, s.grant_id, s.balance
        from pots_for_debit(p_person_id, p_on, p_training_reference, false, p_debit_order,
                            p_debit_after_retirement) as s
        where s.usable
        order by s.draw_key collate "C"
    loop
        exit when missing_cents = 0;
        v_take := least(missing_cents, v_source.balance);
        pots := pots || v_source.pot;
        grants := grants || v_source.grant_id;
        amounts := amounts || v_take;
        missing_cents := missing_cents - v_take;
    end loop;
end;
$$;

-- cpf_hold_create's step 3: the hold, where its euros come from (with the rule that decided
-- the order) and under which key, the paired entries with their balances and the ledger
-- row's mirror of them; returns the hold as its creation answers it.
create function cpf_hold_write(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_request_sha256 bytea, p_key_expires_at timestamptz,
    p_pots text[], p_grants uuid[], p_amounts bigint[], p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text
) returns text
language plpgsql as $$
declare
    v_correlation uuid := gen_random_uuid();  -- one per hold, shared by its entries
begin
    insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at, client_id,
                           token_jti, created_at, idempotency_key, request_sha256, key_expires_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_reference, p_expires_at, p_client_id,
            p_token_jti, p_now, p_idempotency_key, p_request_sha256, p_key_expires_at);
    insert into cpf_hold_allocations (hold_id, seq, pot, grant_id, amount_cents, rule_id,
                                      parameter_effective_from, legal_reference)
    select p_hold_id, a.seq, a.pot, a.grant_id, a.amount_cents, p_rule_id,
           p_parameter_effective_from, p_legal_reference
    from unnest(p_pots, p_grants, p_amounts) with ordinality as a(pot, grant_id, amount_cents, seq);
    insert into ledger_entries (person_id, pot, grant_id, kind, amount, unit, effective_on,
                                correlation_id, hold_id, rule_id, parameter_effective_from,
                                legal_reference, client_id, token_jti, idempotency_key)
    select p_person_id, a.pot, a.grant_id, 'hold', a.amount, pot_unit(a.pot), p_on,
           v_correlation, p_hold_id, p_rule_id, p_parameter_effective_from, p_legal_reference,
           p_client_id, p_token_jti, p_idempotency_key
    from unnest(p_pots || 'cpf_held'::text, p_grants || null::uuid,
                array(select -x from unnest(p_amounts) as x) || p_amount_cents)
         as a(pot, grant_id, amount);
    update ledger_balances b set balance = b.balance - a.amount
    from unnest(p_pots, p_grants, p_amounts) as a(pot, grant_id, amount)
    where b.person_id = p_person_id and b.pot = a.pot
      and b.grant_id is not distinct from a.grant_id;
    insert into ledger_balances as b (person_id, pot, grant_id, balance, unit)
    values (p_person_id, 'cpf_held', null, p_amount_cents, pot_unit('cpf_held'))
    on conflict on constraint ledger_balances_key
    do update set balance = b.balance + excluded.balance;
    update ledger_locks l  -- the columns that mirror the statutory and held balances
    set statutory_cents = l.statutory_cents - coalesce(
            (select sum(a.amount) from unnest(p_pots, p_amounts) as a(pot, amount)
             where a.pot = 'cpf_statutory'), 0),
        held_cents = l.held_cents + p_amount_cents,
        next_pending_expiry = least(l.next_pending_expiry, p_expires_at)
    where l.person_id = p_person_id;
    return jsonb_build_object(
        'id', p_hold_id, 'person_id', p_person_id, 'amount_cents', p_amount_cents,
        'training_reference', p_training_reference, 'expires_at', p_expires_at, 'status', 'pending',
        'posted_cents', null, 'created_at', p_now, 'closed_at', null, 'client_id', p_client_id,
        'allocations', (select jsonb_agg(jsonb_build_object(
                            'pot', a.pot, 'grant_id', a.grant_id, 'amount_cents', a.amount)
                            order by a.seq)
                        from unnest(p_pots, p_grants, p_amounts) with ordinality
                             as a(pot, grant_id, amount, seq)))::text;
end;
$$;

-- ==== The aggregated account summary =======================================================
-- The slow-changing part of the aggregated account as one document per person (issue 5: the
-- account read within 90 % of a one-query endpoint), kept in the person's ledger row
-- (ledger_locks.summary, issue 16; it had a table of its own, account_summaries, before).
--
-- The read used to gather five lookups (balances and grants, lapsed holds, C2P uses, last
-- crediting, linked services) in one statement. What changes seldom (the person's birth and
-- stop dates, C2P points used for training, the last crediting, linked services) is one
-- document per person, rebuilt from the tables by statement triggers on each of them, so no
-- write path can forget it; the balances beside it in the same row are moved by their
-- writers (statutory, held) or by a trigger on their rows (the others), and the read takes
-- that row alone (issue 16 point 3). `python -m cpa ledger verify` checks every document and
-- every balance column against a fresh build.

-- C2P points used so far by one person, by use: the data the reserved-points rule reads
-- (cpa/rules/c2p.py: c2p_points_reserved_remaining decides which uses spend the reserve).
create function c2p_points_used(p_person_id uuid) returns json
language sql stable as $$
    select coalesce(json_object_agg(u.use, u.points order by u.use), '{}'::json)
    from (select c.use, sum(c.points) as points from c2p_conversions c
          where c.person_id = p_person_id group by c.use) as u
$$;

-- The document of one person, built from the tables (its only definition). It names the
-- person's stop dates (death, full-rate retirement): the read applies them to the debit
-- sources as pots_for_debit does. json, not jsonb: decoded once, by the application.
create function account_summary_of(p_person_id uuid) returns json
language sql stable as $$
    select json_build_object(
        'birth_date', p.birth_date,
        'death_on', p.death_on,
        'full_rate_retirement_on', p.full_rate_retirement_on,
        'points_used', c2p_points_used(p.id),
        'last_credited_on',
            (select max(c.credited_on) from ledger_credits c where c.person_id = p.id),
        'services', coalesce(
            (select json_agg(json_build_array(s.id, s.name, s.category, s.url, l.created_at)
                             order by l.created_at, s.id)
             from service_links l join linked_services s on s.id = l.service_id
             where l.person_id = p.id),
            '[]'::json))
    from persons p
    where p.id = p_person_id
$$;

-- The row's lock first (the person's ledger lock), then the document, built by a later
-- statement with a snapshot taken once the lock is held: a transaction that changed the same
-- account meanwhile has committed by then, and its change is in.
create function account_summary_refresh(p_person_id uuid) returns void
language plpgsql as $$
begin
    insert into ledger_locks (person_id) values (p_person_id) on conflict (person_id) do nothing;
    perform 1 from ledger_locks where person_id = p_person_id for update;
    update ledger_locks l
    set summary = account_summary_of(p_person_id),
        stops_on = (select least(p.death_on, p.full_rate_retirement_on)
                    from persons p where p.id = p_person_id)
    where l.person_id = p_person_id;
end;
$$;

-- The balances and bounds of one person's ledger row, built from the tables (their only
-- definition; `ledger verify` compares every row with it).
create function account_row_of(p_person_id uuid)
returns table (cec_cents bigint, c2p_points bigint, abondement_cents bigint,
               earmarked_cents bigint, grants_use_by_min date, next_pending_expiry timestamptz)
language sql stable as $$
    select
        coalesce(sum(b.balance) filter (where b.pot = 'cec' and b.grant_id is null), 0)::bigint,
        coalesce(sum(b.balance) filter (where b.pot = 'c2p' and b.grant_id is null), 0)::bigint,
        coalesce(sum(b.balance) filter (where b.pot = 'abondement' and not g.earmarked), 0)::bigint,
        coalesce(sum(b.balance) filter (where g.pot = 'dotation' or g.earmarked), 0)::bigint,
        min(g.use_by) filter (where b.balance > 0),
        (select min(h.expires_at) from cpf_holds h
         where h.person_id = p_person_id and h.status = 'pending')
    from ledger_balances b
    left join ledger_grants g on g.id = b.grant_id
    where b.person_id = p_person_id
$$;

-- The ledger row's CEC, C2P and grant columns follow their balance rows whoever writes them
-- (credits, conversions, grants, the debit order's holds, posts and voids, the campaign): a
-- row trigger, so no writer can forget it. Its WHEN clause keeps it off the hot path, which
-- moves only the statutory and held rows (their columns are moved by the writers themselves).
create function account_row_follow_balance() returns trigger
language plpgsql as $$
declare
    v_delta bigint := new.balance;
    v_earmarked boolean;
begin
    if tg_op = 'UPDATE' then
        v_delta := new.balance - old.balance;
    end if;
    if new.grant_id is null then
        update ledger_locks l
        set cec_cents = l.cec_cents + case when new.pot = 'cec' then v_delta else 0 end,
            c2p_points = l.c2p_points + case when new.pot = 'c2p' then v_delta else 0 end
        where l.person_id = new.person_id;
        return null;
    end if;
    select g.pot = 'dotation' or g.earmarked into v_earmarked
    from ledger_grants g where g.id = new.grant_id;
    update ledger_locks l  -- the statement's rows are all written when this runs
    set abondement_cents = l.abondement_cents + case when v_earmarked then 0 else v_delta end,
        earmarked_cents = l.earmarked_cents + case when v_earmarked then v_delta else 0 end,
        grants_use_by_min = (select min(g.use_by) from ledger_balances b
                             join ledger_grants g on g.id = b.grant_id
                             where b.person_id = new.person_id and b.balance > 0)
    where l.person_id = new.person_id;
    return null;
end;
$$;
create trigger ledger_balances_account_row
    after insert or update of balance on ledger_balances
    for each row when (new.pot in ('cec', 'c2p', 'abondement', 'dotation'))
    execute function account_row_follow_balance();

-- next_pending_expiry is a lower bound: holds lower it when created, a post, void or expiry
-- leaves it (still a bound). A read that finds it past settles it: the lock, then (a new
-- snapshot, every hold created meanwhile committed) the exact earliest pending expiry.
create function account_row_settle(p_person_id uuid) returns void
language plpgsql as $$
begin
    perform 1 from ledger_locks where person_id = p_person_id for update;
    update ledger_locks l
    set next_pending_expiry = (select min(h.expires_at) from cpf_holds h
                               where h.person_id = p_person_id and h.status = 'pending')
    where l.person_id = p_person_id;
end;
$$;

-- Once per statement and person: a statement that touches many rows of one person (or many
-- persons, like a crediting batch) rebuilds each document once.
create function account_summary_on_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(c.person_id)
    from (select distinct person_id from changed) as c;
    return null;
end;
$$;

create function account_summary_on_person_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(c.id) from (select distinct id from changed) as c;
    return null;
end;
$$;

create trigger c2p_conversions_insert_summary after insert on c2p_conversions
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger c2p_conversions_update_summary after update on c2p_conversions
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger c2p_conversions_delete_summary after delete on c2p_conversions
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_insert_summary after insert on ledger_credits
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_update_summary after update on ledger_credits
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_delete_summary after delete on ledger_credits
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_insert_summary after insert on service_links
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_update_summary after update on service_links
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_delete_summary after delete on service_links
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger persons_insert_summary after insert on persons
    referencing new table as changed
    for each statement execute function account_summary_on_person_change();
create trigger persons_update_summary after update on persons
    referencing new table as changed
    for each statement execute function account_summary_on_person_change();

-- A renamed catalogue entry changes the account of everyone linked to it (rare).
create function account_summary_on_service_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(l.person_id)
    from service_links l where l.service_id = new.id;
    return null;
end;
$$;
create trigger linked_services_summary
    after update on linked_services
    for each row when (old is distinct from new)
    execute function account_summary_on_service_change();

-- Persons are never deleted (their ledger and their access journal outlive any account
-- closure), which lets the access journal drop its foreign key: checking it locked the
-- person's row (FOR KEY SHARE) for every journal line, a write per read (and, with concurrent
-- readers of one person, a multixact).
create function persons_refuse_delete() returns trigger
language plpgsql as $$
begin
    raise exception 'persons are never deleted' using errcode = 'restrict_violation';
end;
$$;
create trigger persons_never_deleted
    before delete on persons
    for each statement execute function persons_refuse_delete();
create trigger persons_never_truncated
    before truncate on persons
    for each statement execute function persons_refuse_delete();

-- Events: every state change and money movement of a training purchase (and of whatever comes
-- next), written by the transaction that made it (a transactional outbox). Webhooks deliver
-- them and GET /v1/events replays them, both in cursor order: nothing committed is ever missed.
--
-- The cursor is (tx_id, id), read only below the oldest transaction still running
-- (pg_snapshot_xmin): an identity alone is allocated before commit, so a reader could pass an
-- id whose transaction commits later and miss it for good. Every transaction below that
-- horizon has ended, so the events below it are final, and a later horizon only adds events
-- after them. Within one subject, events follow its history as long as each transaction takes
-- the subject's lock (cpa.events.lock_subject, no transaction id) before its first write:
-- the next transaction on that subject then gets a larger transaction id.
create table events (
    id bigint generated always as identity primary key,
    tx_id xid8 not null default pg_current_xact_id(),
    type text not null,
    subject_id uuid not null,
    subject_seq integer not null,
    person_id uuid not null references persons (id),
    client_id text references oauth_clients (id),
    data jsonb not null,
    occurred_at timestamptz not null,
    constraint events_type_named check (type ~ '^[a-z_]+\.[a-z_]+$'),
    constraint events_subject_seq_positive check (subject_seq > 0),
    constraint events_subject_seq_unique unique (subject_id, subject_seq)
);
create index events_cursor_idx on events (tx_id, id);
create index events_client_idx on events (client_id, tx_id, id);
create index events_person_idx on events (person_id, tx_id, id);


-- ==== Training purchases (issue 13) =================================================
-- Training purchases (issue 13): the catalogue of training actions and their sessions, kept by
-- the training bodies (oauth_clients of kind training_body), and the dossiers citizens open on
-- a session, with their state history and every amount of money each step moved or decided.
-- The states and actions are cpa/trainings/machine.py's table; the constraint below is its copy.

-- A training action of a body's catalogue (title, RNCP/RS certification, modality, place).
create table training_actions (
    id uuid primary key,
    client_id text not null references oauth_clients (id),
    title text not null,
    certification_code text not null,
    description text not null default '',
    duration_hours integer not null,
    modality text not null,
    location text,
    prerequisites boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    closed_at timestamptz,
    constraint training_actions_title_length check (char_length(title) between 1 and 200),
    constraint training_actions_certification_code_form
        check (certification_code ~ '^(RNCP|RS)[0-9]{1,6}$'),
    constraint training_actions_description_length check (char_length(description) <= 4000),
    constraint training_actions_duration_hours_range check (duration_hours between 1 and 10000),
    constraint training_actions_modality_known check (modality in ('on_site', 'remote', 'mixed')),
    constraint training_actions_location_length
        check (location is null or char_length(location) between 1 and 200)
);
create index training_actions_client_idx on training_actions (client_id, id);
create index training_actions_certification_idx on training_actions (certification_code);

-- A session of an action: dates, price (cents, integer), seats, open or closed.
create table training_sessions (
    id uuid primary key,
    action_id uuid not null references training_actions (id),
    starts_on date not null,
    ends_on date not null,
    price_cents bigint not null,
    seats integer not null,
    open boolean not null default true,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint training_sessions_dates_ordered check (ends_on >= starts_on),
    constraint training_sessions_price_cents_range check (price_cents between 1 and 10000000),
    constraint training_sessions_seats_range check (seats between 1 and 10000)
);
create index training_sessions_action_idx on training_sessions (action_id, starts_on);

-- A citizen's dossier on a session (EDOF states, domain.md §5.1). deadline_on: the last day
-- of the deadline the server enforces in this state (cpa.rules.trainings), null when none.
create table dossiers (
    id uuid primary key,
    person_id uuid not null references persons (id),
    session_id uuid not null references training_sessions (id),
    action_id uuid not null references training_actions (id),
    client_id text not null references oauth_clients (id),
    state text not null,
    price_cents bigint not null,
    starts_on date not null,
    ends_on date not null,
    financer_review boolean not null default false,
    job_seeker boolean not null default false,
    hold_id uuid references cpf_holds (id),
    held_cents bigint not null default 0,
    copayment_cents bigint not null default 0,
    completion_basis_points integer,
    exit_case text,
    control_opened_at timestamptz,
    accepted_on date,
    deadline_on date,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint dossiers_state_known check (state in (
        'notProcessed', 'validated', 'waitingAcceptation', 'accepted', 'inTraining',
        'terminated', 'serviceDoneDeclared', 'serviceDoneValidated', 'canceledByAttendee',
        'canceledByAttendeeNotRealized', 'canceledByOrganism', 'canceledByFinancer',
        'rejectedWithoutTitulaireSuite', 'refusedByAttendee', 'refusedByOrganism',
        'refusedByFinancer'
    )),
    constraint dossiers_price_cents_range check (price_cents between 1 and 10000000),
    constraint dossiers_dates_ordered check (ends_on >= starts_on),
    constraint dossiers_held_cents_range check (held_cents between 0 and price_cents),
    constraint dossiers_copayment_cents_range check (copayment_cents between 0 and price_cents),
    constraint dossiers_completion_basis_points_range
        check (completion_basis_points is null or completion_basis_points between 0 and 10000),
    constraint dossiers_exit_case_known check (exit_case is null or exit_case in (
        'completed', 'holder_abandon', 'body_interrupt', 'force_majeure'
    ))
);
create index dossiers_person_idx on dossiers (person_id, created_at desc, id);
create index dossiers_client_idx on dossiers (client_id, created_at desc, id);
create index dossiers_open_idx on dossiers (person_id, action_id) where state in (
    'notProcessed', 'validated', 'waitingAcceptation', 'accepted', 'inTraining',
    'terminated', 'serviceDoneDeclared'
);
create index dossiers_deadline_idx on dossiers (deadline_on) where deadline_on is not null;

-- Each state a dossier entered, when, by which action and whom (integrators read it).
create table dossier_states (
    dossier_id uuid not null references dossiers (id),
    seq integer not null,
    state text not null,
    action text not null,
    actor text not null,
    client_id text,
    occurred_at timestamptz not null,
    constraint dossier_states_pkey primary key (dossier_id, seq),
    constraint dossier_states_actor_known
        check (actor in ('citizen', 'body', 'financer', 'server'))
);

-- Each amount a dossier's step moved or decided, and what produced it: the rule (and its
-- parameter or policy version) and the legal reference. Ledger moves name the hold.
create table dossier_amounts (
    dossier_id uuid not null references dossiers (id),
    seq integer not null,
    leg text not null,
    amount_cents bigint not null,
    rule_id text not null,
    policy_version text not null,
    legal_reference text not null,
    hold_id uuid references cpf_holds (id),
    occurred_at timestamptz not null,
    constraint dossier_amounts_pkey primary key (dossier_id, seq),
    constraint dossier_amounts_leg_known check (leg in (
        'rights_held', 'copayment', 'rights_released', 'rights_debited', 'copayment_refunded'
    )),
    constraint dossier_amounts_amount_cents_range check (amount_cents >= 0)
);

-- Webhooks: a client's subscriptions to its events, and one delivery per (subscription,
-- event). The fan-out job turns final outbox events (after its own cursor, with the reading
-- rule of 0002) into delivery rows; the delivery job claims due rows with `for update skip
-- locked`, leases them, POSTs them signed (Standard Webhooks), and retries with backoff.
-- Within one subscription, a subject's event is delivered only once its earlier ones were.
create table webhook_subscriptions (
    id uuid primary key default gen_random_uuid(),
    client_id text not null references oauth_clients (id),
    url text not null,
    event_types text[] not null,
    secret_ciphertext bytea not null,
    status text not null default 'enabled',
    failures_consecutive integer not null default 0,
    last_error text,
    last_error_at timestamptz,
    last_delivered_at timestamptz,
    disabled_at timestamptz,
    created_at timestamptz not null,
    constraint webhook_subscriptions_status_known check (status in ('enabled', 'disabled')),
    constraint webhook_subscriptions_url_http check (url ~ '^https?://'),
    constraint webhook_subscriptions_event_types_given check (cardinality(event_types) > 0),
    constraint webhook_subscriptions_failures_nonnegative check (failures_consecutive >= 0)
);
create index webhook_subscriptions_client_idx on webhook_subscriptions (client_id, created_at);

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    subscription_id uuid not null references webhook_subscriptions (id) on delete cascade,
    event_id bigint not null references events (id),
    subject_id uuid not null,
    subject_seq integer not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    delivered_at timestamptz,
    constraint webhook_deliveries_once unique (subscription_id, event_id),
    constraint webhook_deliveries_attempts_nonnegative check (attempts >= 0)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where delivered_at is null;
create index webhook_deliveries_subject_idx
    on webhook_deliveries (subscription_id, subject_id, subject_seq) where delivered_at is null;
create index webhook_deliveries_delivered_idx on webhook_deliveries (delivered_at)
    where delivered_at is not null;

-- The fan-out job's cursor (one row): the last outbox event turned into deliveries.
create table webhook_fanout (
    id boolean primary key default true,
    tx_id xid8 not null,
    event_id bigint not null,
    constraint webhook_fanout_one_row check (id)
);
insert into webhook_fanout (tx_id, event_id) values ('0', 0);

-- ==== Issue 15: holds by client, browser sessions, access journal catch-up ===========
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

-- ==== The crediting campaign's run (issue 14) ========================================
-- The crediting campaign's run (issue 14): each pass over a year's persons is cut into chunks
-- of person ids; worker processes lease a chunk at a time (`for update skip locked`, a lease
-- that expires if the worker dies) and commit its credits and its figures together, so a
-- chunk is either done once or not at all. The loads record their counts, for the report.
create table campaign_passes (
    year integer not null,
    pass integer not null,
    credited_on date not null,
    chunk_persons integer not null,
    created_at timestamptz not null default now(),
    constraint campaign_passes_pkey primary key (year, pass),
    constraint campaign_passes_pass_positive check (pass > 0),
    constraint campaign_passes_chunk_persons_positive check (chunk_persons > 0)
);

-- One range of person ids [first_person_id, end_person_id) of a pass (null: unbounded).
create table campaign_chunks (
    year integer not null,
    pass integer not null,
    chunk_no integer not null,
    first_person_id uuid,
    end_person_id uuid,
    persons_planned integer not null,
    status text not null default 'waiting',
    leased_by text,
    lease_expires_at timestamptz,
    attempts integer not null default 0,
    stats jsonb,
    last_error text,
    started_at timestamptz,
    done_at timestamptz,
    constraint campaign_chunks_pkey primary key (year, pass, chunk_no),
    constraint campaign_chunks_pass_fkey foreign key (year, pass)
        references campaign_passes (year, pass),
    constraint campaign_chunks_status_known
        check (status in ('waiting', 'leased', 'done', 'failed')),
    constraint campaign_chunks_done_with_stats check ((status = 'done') = (stats is not null))
);

-- What each bulk load did (its rejected lines counted by problem type), for the report.
create table campaign_loads (
    id bigint generated always as identity primary key,
    year integer,
    kind text not null,
    files integer not null,
    lines bigint not null,
    stored bigint not null,
    rejected bigint not null,
    rejected_by_type jsonb not null,
    seconds double precision not null,
    loaded_at timestamptz not null default now(),
    constraint campaign_loads_kind_known check (kind in ('declarations', 'persons'))
);

-- ==== The lean hold (issue 16) =============================================================

-- The check that ends create_hold_lean (sql/ledger.sql): the ledger row's statutory and held
-- columns after the hold equal the balance rows they mirror, or the whole statement is undone
-- (a programmer error: some writer moved one without the other).
create function ledger_row_checked(p_row bigint[], p_balances bigint[]) returns text
language plpgsql as $$
begin
    if p_row is distinct from p_balances then
        raise exception 'ledger row % disagrees with its balances %', p_row, p_balances;
    end if;
    return 'created';
end;
$$;
