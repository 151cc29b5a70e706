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

-- Authorization codes: single use, consumed atomically (delete … returning).
create table authorization_codes (
    code_hash bytea primary key,
    client_id text not null references oauth_clients (id),
    consent_id uuid not null references consents (id),
    redirect_uri text not null,
    scopes text[] not null,
    code_challenge text not null,
    auth_time timestamptz not null,
    expires_at timestamptz not null
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
    person_id uuid not null references persons (id),
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
