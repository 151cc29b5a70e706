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
