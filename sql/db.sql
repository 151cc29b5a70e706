-- name: create_schema_migrations
-- The migrations runner's own bookkeeping table (outside the versioned schema).
create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);

-- name: lock_migrations
-- Session advisory lock: one migrations runner at a time.
select pg_advisory_lock($1::bigint);

-- name: unlock_migrations
-- Release the migrations runner's advisory lock.
select pg_advisory_unlock($1::bigint);

-- name: list_applied_migrations
-- Versions, names and checksums of the migrations already applied.
select version, name, checksum from schema_migrations order by version;

-- name: record_migration
-- Record one migration as applied, with the checksum of its file.
insert into schema_migrations (version, name, checksum) values ($1, $2, $3);

-- name: check_ready
-- Readiness probe: one round trip that proves the database answers.
select 1;

-- name: database_exists
-- Whether a database of that name exists on the server.
select exists (select 1 from pg_database where datname = $1);

-- name: create_database
-- Create a database, cloned from a template ({database} and {template} are checked identifiers).
create database {database} template {template};

-- name: drop_database
-- Drop a throwaway database (tests), closing its connections ({database} is a checked identifier).
drop database if exists {database} with (force);
