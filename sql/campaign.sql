-- The campaign's bulk intake: in one transaction, each batch of checked lines is copied (COPY)
-- into the session's staging table, then written set-based: duplicates of the load refused,
-- lines already stored skipped (a second load of a file changes nothing), the others inserted
-- as the declarations API inserts them (a changed line is the next revision, a correction).

-- name: create_intake_lines
-- The session's staging table of declaration lines (checked, their person found).
create temporary table if not exists campaign_intake_lines (
    kind text not null,
    file_no integer not null,
    line_no bigint not null,
    person_id uuid not null,
    year integer not null,
    key text,
    dup_key text not null,
    body text not null  -- text: a connection's own jsonb codec would quote a str again
) on commit preserve rows;

-- name: clear_intake_lines
-- Empty the staging table of declaration lines (before each batch).
truncate campaign_intake_lines;

-- name: create_intake_keys
-- The keys of the lines a load has staged so far, the first line of each: a later line with
-- the same key is a duplicate.
create temporary table if not exists campaign_intake_keys (
    kind text not null,
    person_id uuid not null,
    year integer not null,
    dup_key text not null,
    file_no integer not null,
    line_no bigint not null,
    constraint campaign_intake_keys_key unique (kind, person_id, year, dup_key)
) on commit preserve rows;

-- name: clear_intake_keys
-- Forget the keys of the previous load.
truncate campaign_intake_keys;

-- name: lock_campaign_intake
-- One bulk intake writes at a time (two would compute the same next revisions).
select pg_advisory_xact_lock(hashtext('cpa.campaign.intake'));

-- name: delete_intake_duplicates
-- Refuse the staged lines whose key (person, year, contract or whole engagement) an earlier
-- line of the load has: they are removed and returned with the first line's place. Only the
-- batch's own keys are looked up (by the unique index), never the whole load's: a batch costs
-- the same at the end of 10 million lines as at the start. (The keys this statement inserts
-- are seen through its returning only, as its snapshot wants.)
with fresh as (
    insert into campaign_intake_keys (kind, person_id, year, dup_key, file_no, line_no)
    select kind, person_id, year, dup_key, file_no, line_no
    from campaign_intake_lines
    order by file_no, line_no
    on conflict do nothing
    returning kind, person_id, year, dup_key, file_no, line_no
), repeated as (
    delete from campaign_intake_lines s
    where not exists (select 1 from fresh f where f.file_no = s.file_no and f.line_no = s.line_no)
    returning s.kind, s.person_id, s.year, s.dup_key, s.file_no, s.line_no
)
select r.file_no, r.line_no,
       coalesce(f.file_no, k.file_no) as first_file_no,
       coalesce(f.line_no, k.line_no) as first_line_no
from repeated r
left join fresh f
    on (f.kind, f.person_id, f.year, f.dup_key) = (r.kind, r.person_id, r.year, r.dup_key)
left join lateral (  -- limit 1: kept a parameterised probe of the key, not a join of all keys
    select k.file_no, k.line_no from campaign_intake_keys k
    where k.kind = r.kind and k.person_id = r.person_id and k.year = r.year
      and k.dup_key = r.dup_key
    limit 1
) k on true;

-- name: insert_intake_activities
-- Store the staged activity lines whose body differs from the year's latest revision.
with staged as materialized (  -- each body parsed once
    select person_id, year, body::jsonb as body
    from campaign_intake_lines where kind = 'activities'
)
insert into activity_declarations (person_id, year, revision, body, client_id)
select s.person_id, s.year, coalesce(c.revision, 0) + 1, s.body, $1
from staged s
left join lateral (
    select a.revision, a.body from activity_declarations a
    where a.person_id = s.person_id and a.year = s.year
    order by a.revision desc
    limit 1
) c on true
where c.body is distinct from s.body;

-- name: insert_intake_exposures
-- Store the staged exposure lines whose body differs from the contract's latest revision.
with staged as materialized (  -- each body parsed once
    select person_id, year, key as contract_ref, body::jsonb as body
    from campaign_intake_lines where kind = 'exposures'
)
insert into c2p_exposure_declarations (person_id, year, contract_ref, revision, body, client_id)
select s.person_id, s.year, s.contract_ref, coalesce(c.revision, 0) + 1, s.body, $1
from staged s
left join lateral (
    select e.revision, e.body from c2p_exposure_declarations e
    where e.person_id = s.person_id and e.year = s.year and e.contract_ref = s.contract_ref
    order by e.revision desc
    limit 1
) c on true
where c.body is distinct from s.body;

-- name: insert_intake_engagements
-- Store the staged engagement lines not already declared with the same body.
with staged as materialized (  -- each body parsed once
    select person_id, year, key as organisation, body::jsonb as body
    from campaign_intake_lines where kind = 'engagements'
)
insert into cec_engagements (person_id, year, organisation, body, client_id)
select s.person_id, s.year, s.organisation, s.body, $1
from staged s
where not exists (
    select 1 from cec_engagements e
    where e.person_id = s.person_id and e.year = s.year and e.organisation = s.organisation
      and e.body = s.body
);

-- name: list_persons_by_nir_hmacs
-- The persons of a batch of lines, by the keyed hashes of their NIRs (one query per batch).
select nir_hmac, id, birth_date from persons where nir_hmac = any($1::bytea[]);

-- name: list_persons_by_ids
-- The persons of a batch of lines that name them by id.
select id, birth_date from persons where id = any($1::uuid[]);

-- name: create_intake_persons
-- The session's staging table of person lines (NIR already hashed and encrypted).
create temporary table if not exists campaign_intake_persons (
    file_no integer not null,
    line_no bigint not null,
    nir_hmac bytea not null,
    nir_ciphertext bytea not null,
    birth_date date not null,
    death_on date,
    full_rate_retirement_on date
) on commit preserve rows;

-- name: clear_intake_persons
-- Empty the staging table of person lines before a load.
truncate campaign_intake_persons;

-- name: delete_intake_person_duplicates
-- Refuse the person lines of the load that repeat an earlier line's NIR (the first one stays).
delete from campaign_intake_persons s
using (
    select ctid,
           first_value(file_no) over w as first_file_no,
           first_value(line_no) over w as first_line_no,
           row_number() over w as n
    from campaign_intake_persons
    window w as (partition by nir_hmac order by file_no, line_no)
) d
where s.ctid = d.ctid and d.n > 1
returning s.file_no, s.line_no, d.first_file_no, d.first_line_no;

-- name: delete_intake_person_conflicts
-- Refuse the person lines whose NIR is registered with other dates (registered is final here).
delete from campaign_intake_persons s
using persons p
where p.nir_hmac = s.nir_hmac
  and (p.birth_date, p.death_on, p.full_rate_retirement_on)
      is distinct from (s.birth_date, s.death_on, s.full_rate_retirement_on)
returning s.file_no, s.line_no;

-- name: insert_intake_persons
-- Register the staged persons not registered yet (the same person again changes nothing).
insert into persons (nir_hmac, nir_ciphertext, birth_date, death_on, full_rate_retirement_on)
select s.nir_hmac, s.nir_ciphertext, s.birth_date, s.death_on, s.full_rate_retirement_on
from campaign_intake_persons s
order by s.file_no, s.line_no
on conflict (nir_hmac) do nothing;
