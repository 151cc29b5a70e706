-- Accounts and ledger (issue 5): declarations in, rights credited, holds, idempotency, services.
--
-- Units: every amount column states its unit; a ledger entry's unit follows its pot
-- (cents for euro pots, hours for the 2015–2018 stocks, points for C2P).

-- One row per person with a ledger: the serialisation point of every write to that person
-- (SELECT … FOR UPDATE), so that a hold can never overdraw whatever races.
create table ledger_accounts (
    person_id uuid primary key references persons (id),
    created_at timestamptz not null default now()
);

-- Abondements and employer dotations: each is its own sub-pot (outside the ceilings),
-- optionally earmarked to a training and usable until a deadline (décret 2025-341).
create table ledger_grants (
    id uuid primary key default gen_random_uuid(),
    person_id uuid not null references persons (id),
    pot text not null,
    financer text not null,
    earmarked boolean not null default false,
    training_ref text,
    use_by date,
    created_at timestamptz not null default now(),
    constraint ledger_grants_pot_known check (pot in ('abondement', 'dotation'))
);
create index ledger_grants_person_idx on ledger_grants (person_id);

-- Append-only: a balance changes only by appending an entry (trigger below).
create table ledger_entries (
    id bigint generated always as identity primary key,
    person_id uuid not null references persons (id),
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
    constraint ledger_entries_pot_known check (
        pot in ('cpf_statutory', 'cpf_hours', 'cec', 'cec_hours', 'abondement', 'dotation',
                'cpf_held', 'c2p')
    ),
    constraint ledger_entries_kind_known check (
        kind in ('accrual', 'adjustment', 'conversion', 'hold', 'hold_post', 'hold_void',
                 'hold_expire', 'abondement', 'dotation', 'c2p_use')
    ),
    constraint ledger_entries_unit_matches_pot check (
        unit = case
            when pot in ('cpf_hours', 'cec_hours') then 'hours'
            when pot = 'c2p' then 'points'
            else 'cents'
        end
    ),
    constraint ledger_entries_grant_matches_pot check (
        (grant_id is not null) = (pot in ('abondement', 'dotation'))
    )
);
create index ledger_entries_person_idx on ledger_entries (person_id, id desc);
create index ledger_entries_correlation_idx on ledger_entries (correlation_id);

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
    person_id uuid not null references persons (id),
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
    person_id uuid not null references persons (id),
    amount_cents bigint not null,
    training_ref text not null,
    expires_at timestamptz not null,
    status text not null default 'pending',
    posted_cents bigint,
    client_id text,
    token_jti text,
    created_at timestamptz not null default now(),
    closed_at timestamptz,
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

-- Where a hold took its euros from, in debit order (seq), so a release returns them there.
create table cpf_hold_allocations (
    hold_id uuid not null references cpf_holds (id),
    seq integer not null,
    pot text not null,
    grant_id uuid references ledger_grants (id),
    amount_cents bigint not null,
    constraint cpf_hold_allocations_pkey primary key (hold_id, seq),
    constraint cpf_hold_allocations_amount_positive check (amount_cents > 0)
);

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
    training_ref text,
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
    constraint activity_declarations_year_range check (year between 2015 and 2100)
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
    constraint c2p_exposure_declarations_year_range check (year between 2015 and 2100)
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
    constraint cec_engagements_year_range check (year between 2017 and 2100)
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
