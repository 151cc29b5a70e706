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

-- ==== The run: passes, chunks, leases, the set-based reads and writes of a chunk ===========

-- name: lock_campaign_passes
-- One process at a time opens a year's pass (two runs started together cut it once).
select pg_advisory_xact_lock(hashtext('cpa.campaign.passes'), $1);

-- name: get_campaign_pass
-- The year's latest pass and how many of its chunks are still to do.
select p.pass, p.credited_on, p.chunk_persons,
       (select count(*) from campaign_chunks c
        where c.year = p.year and c.pass = p.pass and c.status in ('waiting', 'leased'))
           as chunks_open
from campaign_passes p
where p.year = $1
order by p.pass desc
limit 1;

-- name: insert_campaign_pass
-- Open a pass over a year's persons, crediting on a given day, in chunks of a given size.
insert into campaign_passes (year, pass, credited_on, chunk_persons) values ($1, $2, $3, $4);

-- name: insert_campaign_chunks
-- Cut the persons with a declaration for the year into chunks of $3 persons: consecutive
-- ranges of person ids that cover every id (the first from the start, the last to the end),
-- so that a person declared after the cut still falls in one chunk.
with persons as (
    select person_id from activity_declarations where year = $1
    union
    select person_id from c2p_exposure_declarations where year = $1
    union
    select person_id from cec_engagements where year = $1
), numbered as (
    select person_id, row_number() over (order by person_id) - 1 as n from persons
), firsts as (  -- min() has no uuid version: the first of each chunk is its row n = 0 mod $3
    select n / $3 as chunk_no, person_id as first_id from numbered where n % $3 = 0
), sizes as (
    select n / $3 as chunk_no, count(*) as persons from numbered group by n / $3
)
insert into campaign_chunks (year, pass, chunk_no, first_person_id, end_person_id,
                             persons_planned)
select $1, $2, f.chunk_no, case when f.chunk_no = 0 then null else f.first_id end,
       lead(f.first_id) over (order by f.chunk_no), s.persons
from firsts f join sizes s using (chunk_no);

-- name: lease_campaign_chunk
-- Lease the pass's next chunk to worker $3 for $4 seconds: a waiting one, or one whose lease
-- expired (its worker died). A chunk being credited is locked by its worker's transaction and
-- skipped, even past its lease.
update campaign_chunks c
set status = 'leased', leased_by = $3, lease_expires_at = now() + make_interval(secs => $4),
    attempts = c.attempts + 1, started_at = coalesce(c.started_at, now())
where (c.year, c.pass, c.chunk_no) = (
    select year, pass, chunk_no from campaign_chunks
    where year = $1 and pass = $2
      and (status = 'waiting' or (status = 'leased' and lease_expires_at < now()))
    order by chunk_no
    limit 1
    for update skip locked
)
returning c.chunk_no, c.first_person_id, c.end_person_id, c.attempts;

-- name: lock_leased_chunk
-- Inside the chunk's transaction: the chunk is still this worker's (else another took it over).
select chunk_no from campaign_chunks
where year = $1 and pass = $2 and chunk_no = $3 and leased_by = $4 and status = 'leased'
for update;

-- name: finish_campaign_chunk
-- The chunk done, with its figures, in the transaction that wrote its credits.
update campaign_chunks
set status = 'done', stats = $5::text::jsonb, done_at = now(), last_error = null
where year = $1 and pass = $2 and chunk_no = $3 and leased_by = $4 and status = 'leased';

-- name: release_campaign_chunk
-- A chunk given back by its worker: waiting again (stopped, or failed fewer than $6 times),
-- or failed for good, with the error.
update campaign_chunks
set status = case when $5::text is not null and attempts >= $6 then 'failed' else 'waiting' end,
    leased_by = null, lease_expires_at = null, last_error = coalesce($5, last_error)
where year = $1 and pass = $2 and chunk_no = $3 and leased_by = $4 and status = 'leased';

-- name: count_open_chunks
-- The pass's chunks not done yet (waiting or leased): a worker waits while any is leased.
select count(*) filter (where status = 'waiting') as waiting,
       count(*) filter (where status = 'leased') as leased
from campaign_chunks where year = $1 and pass = $2;

-- name: list_chunk_persons
-- The persons of a chunk with a declaration for the year, in id order (the lock order).
with ids as (
    select person_id from activity_declarations
    where year = $1 and ($2::uuid is null or person_id >= $2) and ($3::uuid is null or person_id < $3)
    union
    select person_id from c2p_exposure_declarations
    where year = $1 and ($2::uuid is null or person_id >= $2) and ($3::uuid is null or person_id < $3)
    union
    select person_id from cec_engagements
    where year = $1 and ($2::uuid is null or person_id >= $2) and ($3::uuid is null or person_id < $3)
)
select p.id, p.birth_date, p.full_rate_retirement_on
from persons p join ids on ids.person_id = p.id
order by p.id;

-- name: ensure_ledger_accounts
-- Create the ledger rows (each person's write lock) of a chunk's persons that have none.
insert into ledger_locks (person_id)
select unnest($1::uuid[])
on conflict (person_id) do nothing;

-- name: lock_ledger_accounts
-- Take the ledger locks of a chunk's persons, in id order (as any multi-person writer must).
select person_id from ledger_locks where person_id = any($1::uuid[]) order by person_id for update;

-- name: list_chunk_activities
-- The latest revision of each activity declaration of the chunk's persons for the year.
select distinct on (person_id) person_id, id, revision, body::text as body
from activity_declarations
where person_id = any($1::uuid[]) and year = $2
order by person_id, revision desc;

-- name: list_chunk_exposures
-- The latest revision of each contract's C2P exposures of the chunk's persons for the year.
select distinct on (person_id, contract_ref) person_id, id, contract_ref, revision,
       body::text as body, created_at
from c2p_exposure_declarations
where person_id = any($1::uuid[]) and year = $2
order by person_id, contract_ref, revision desc;

-- name: list_chunk_engagements
-- The validated CEC engagements of the chunk's persons for the year.
select person_id, id, body::text as body, created_at
from cec_engagements
where person_id = any($1::uuid[]) and year = $2 and status = 'validated'
order by person_id, created_at, id;

-- name: list_chunk_credits
-- What was credited to the chunk's persons, per year and account, with the inputs used.
select person_id, year, account, unit, amount, balance_before, inputs_sha256
from ledger_credits where person_id = any($1::uuid[]);

-- name: list_chunk_balances
-- The balances of the chunk's persons' own pots (grants aside).
select person_id, pot, balance from ledger_balances
where person_id = any($1::uuid[]) and grant_id is null;

-- name: list_chunk_held
-- The euros of the chunk's persons' pending holds taken from the pots that ceilings read.
select h.person_id,
       coalesce(sum(a.amount_cents) filter (where a.pot = 'cpf_statutory'), 0)::bigint
           as statutory_cents,
       coalesce(sum(a.amount_cents) filter (where a.pot = 'cec'), 0)::bigint as cec_cents
from cpf_holds h
join cpf_hold_draws a on a.hold_id = h.id
where h.person_id = any($1::uuid[]) and h.status = 'pending'
group by h.person_id;

-- name: add_chunk_balances
-- Add a chunk's entries to their balances (parallel arrays of person, pot, delta): one
-- statement per chunk. Only the accounts' own pots, which may carry a debt, are credited.
-- The persons' ledger rows mirror their statutory balance (sql/schema.sql, ledger_locks).
with deltas as (
    select * from unnest($1::uuid[], $2::text[], $3::bigint[]) as d(person_id, pot, amount)
), mirrored as (
    update ledger_locks l set statutory_cents = l.statutory_cents + m.amount
    from (select person_id, sum(amount) as amount from deltas
          where pot = 'cpf_statutory' group by person_id) as m
    where l.person_id = m.person_id
)
insert into ledger_balances as b (person_id, pot, grant_id, balance, unit)
select d.person_id, d.pot, null, d.amount, pot_unit(d.pot)
from deltas d
on conflict on constraint ledger_balances_key
do update set balance = b.balance + excluded.balance;

-- name: upsert_chunk_credits
-- Record what the year now credits for each account of a chunk's persons (parallel arrays).
insert into ledger_credits as c (person_id, year, account, unit, amount, balance_before,
                                 inputs_sha256, credited_on)
select * from unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::bigint[],
                     $6::bigint[], $7::bytea[], $8::date[])
on conflict on constraint ledger_credits_pkey
do update set amount = excluded.amount, inputs_sha256 = excluded.inputs_sha256,
              credited_on = excluded.credited_on;

-- name: list_campaign_chunks
-- Every chunk of a year (every pass): its status, lease, figures and last error.
select pass, chunk_no, status, persons_planned, attempts, leased_by, lease_expires_at,
       stats::text as stats, last_error, started_at, done_at
from campaign_chunks where year = $1
order by pass, chunk_no;

-- name: list_ledger_year_totals
-- What the ledger holds for a year's credits: per pot and kind, the entries and their sum.
select pot, kind, count(*) as entries, sum(amount)::bigint as amount
from ledger_entries
where credit_year = $1 and kind in ('accrual', 'adjustment')
group by pot, kind;

-- name: count_year_credited
-- The persons the ledger records a credit for in a year.
select count(distinct person_id) from ledger_credits where year = $1;

-- name: insert_campaign_load
-- Record what a bulk load did.
insert into campaign_loads (year, kind, files, lines, stored, rejected, rejected_by_type, seconds)
values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8);

-- name: list_campaign_rejects
-- The lines the year's loads rejected, by problem type.
select r.key as type, sum(r.value::bigint)::bigint as lines
from campaign_loads l, jsonb_each_text(l.rejected_by_type) r
where l.year = $1 or l.year is null
group by r.key
order by r.key;

-- name: retry_failed_chunks
-- Give a pass's failed chunks another round of attempts (a rerun after a fix).
update campaign_chunks set status = 'waiting', attempts = 0
where year = $1 and pass = $2 and status = 'failed';

-- name: get_campaign_progress
-- The latest pass of a year: its chunks and planned persons, done or not (a progress bar's).
select p.pass,
       count(*) as chunks,
       count(*) filter (where c.status = 'done') as chunks_done,
       coalesce(sum(c.persons_planned), 0)::bigint as persons,
       coalesce(sum(c.persons_planned) filter (where c.status = 'done'), 0)::bigint as persons_done
from campaign_passes p
left join campaign_chunks c on c.year = p.year and c.pass = p.pass
where p.year = $1 and p.pass = $2
group by p.pass;
