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
