-- Ledger: entries, balances, holds, grants, credits, C2P uses, the account read model and the
-- idempotency store. Amounts are in the unit of their pot (cents, hours or points).

-- name: ensure_ledger_account
-- Create the person's ledger row (the lock every write to that person takes) if missing.
insert into ledger_locks (person_id) values ($1) on conflict (person_id) do nothing;

-- name: lock_ledger_account
-- Serialise writes to one person's ledger until the end of the transaction.
select person_id from ledger_locks where person_id = $1 for update;

-- name: append_entries
-- Append entries (parallel arrays) and add them to their balances; returns the new balances.
-- Callers hold the person's ledger lock, so no other writer creates the same balance row.
with appended as (
    insert into ledger_entries (
        person_id, pot, grant_id, kind, amount, unit, effective_on, correlation_id, hold_id,
        credit_year, rule_id, parameter_effective_from, legal_reference, trace, declaration_id,
        client_id, token_jti, idempotency_key
    )
    select e.person_id, e.pot, e.grant_id, e.kind, e.amount, pot_unit(e.pot), e.effective_on,
           e.correlation_id, e.hold_id, e.credit_year, e.rule_id, e.parameter_effective_from,
           e.legal_reference, e.trace::jsonb, e.declaration_id, $15, $16, $17
    from unnest(
        $1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::date[], $7::uuid[],
        $8::uuid[], $9::integer[], $10::text[], $11::date[], $12::text[], $13::text[],
        $14::uuid[]
    ) as e(person_id, pot, grant_id, kind, amount, effective_on, correlation_id, hold_id,
           credit_year, rule_id, parameter_effective_from, legal_reference, trace,
           declaration_id)
    returning person_id, pot, grant_id, amount, unit
), deltas as (
    select person_id, pot, grant_id, sum(amount) as amount, min(unit) as unit
    from appended
    group by person_id, pot, grant_id
), updated as (
    -- Update then insert, rather than INSERT … ON CONFLICT: a CHECK constraint is evaluated
    -- on the row proposed for insertion (the bare delta), which may be negative.
    update ledger_balances b set balance = b.balance + d.amount
    from deltas d
    where b.person_id = d.person_id and b.pot = d.pot and b.grant_id is not distinct from d.grant_id
    returning b.person_id, b.pot, b.grant_id, b.balance
), mirrored as (
    -- The person's ledger row mirrors two of these balances (sql/schema.sql, ledger_locks).
    update ledger_locks l
    set statutory_cents = l.statutory_cents + m.statutory, held_cents = l.held_cents + m.held
    from (select person_id,
                 coalesce(sum(amount) filter (where pot = 'cpf_statutory'), 0) as statutory,
                 coalesce(sum(amount) filter (where pot = 'cpf_held'), 0) as held
          from deltas where pot in ('cpf_statutory', 'cpf_held') group by person_id) as m
    where l.person_id = m.person_id
), inserted as (
    insert into ledger_balances (person_id, pot, grant_id, balance, unit)
    select d.person_id, d.pot, d.grant_id, d.amount, d.unit
    from deltas d
    where not exists (
        select 1 from ledger_balances b
        where b.person_id = d.person_id and b.pot = d.pot
          and b.grant_id is not distinct from d.grant_id
    )
    returning person_id, pot, grant_id, balance
)
select person_id, pot, grant_id, balance from updated
union all
select person_id, pot, grant_id, balance from inserted;

-- name: list_balances
-- Every balance row of one person.
select pot, grant_id, balance, unit from ledger_balances where person_id = $1;

-- name: list_balance_mismatches
-- Balances that differ from the sum of their entries (both directions); empty when sound.
with sums as (
    select person_id, pot, grant_id, sum(amount) as entries_sum
    from ledger_entries
    group by person_id, pot, grant_id
)
select coalesce(b.person_id, s.person_id) as person_id, coalesce(b.pot, s.pot) as pot,
       coalesce(b.grant_id, s.grant_id) as grant_id, b.balance, s.entries_sum
from ledger_balances b
full join sums s
  on s.person_id = b.person_id and s.pot = b.pot and s.grant_id is not distinct from b.grant_id
where b.balance is distinct from s.entries_sum;

-- name: list_held_mismatches
-- Persons whose held euros differ from the sum of their pending holds.
with pending as (
    select person_id, sum(amount_cents) as held
    from cpf_holds where status = 'pending' group by person_id
), held as (
    select person_id, balance from ledger_balances where pot = 'cpf_held'
)
select coalesce(h.person_id, p.person_id) as person_id, h.balance, p.held
from held h full join pending p on p.person_id = h.person_id
where coalesce(h.balance, 0) <> coalesce(p.held, 0);

-- name: list_ledger_row_mismatches
-- Ledger rows whose statutory or held columns differ from the balance rows they mirror.
select l.person_id, m.pot, m.cached as balance, coalesce(b.balance, 0) as entries_sum
from ledger_locks l
cross join lateral (values ('cpf_statutory', l.statutory_cents), ('cpf_held', l.held_cents))
    as m(pot, cached)
left join ledger_balances b
  on b.person_id = l.person_id and b.pot = m.pot and b.grant_id is null
where m.cached <> coalesce(b.balance, 0);

-- name: list_overdrawn_balances
-- Balances below zero in a pot that may not owe (an abondement, a dotation, the held euros):
-- only the accounts' own pots may carry a debt (domain.md OQ-5). The constraint
-- ledger_balances_no_overdraft refuses them; this proves no row escaped it.
select person_id, pot, grant_id, balance
from ledger_balances
where balance < 0 and not (pot = any($1::text[]));

-- name: list_unbalanced_holds
-- Holds whose allocations do not add up to the amount they reserve.
select h.id
from cpf_holds h
left join cpf_hold_draws a on a.hold_id = h.id
group by h.id, h.amount_cents
having coalesce(sum(a.amount_cents), 0) <> h.amount_cents;

-- name: count_ledger
-- How many balance rows and entries the ledger holds.
select (select count(*) from ledger_balances) as balances,
       (select count(*) from ledger_entries) as entries;

-- name: create_hold_at_once
-- Claim the key, lock the person, allocate in the debit order given (traced by the rule's id,
-- date and reference), write the hold (with its key), entries, balances and journal line.
select outcome, hold, available_cents
from cpf_hold_create(
    p_person_id => $1, p_hold_id => $2, p_amount_cents => $3, p_training_reference => $4,
    p_expires_at => $5, p_now => $6, p_on => $7, p_client_id => $8, p_token_jti => $9,
    p_idempotency_key => $10, p_request_sha256 => $11, p_key_expires_at => $12,
    p_debit_order => $13, p_debit_after_retirement => $14, p_rule_id => $15,
    p_parameter_effective_from => $16, p_legal_reference => $17, p_journal_client_id => $18,
    p_journal_client_kind => $19, p_journal_client_name => $20, p_journal_advisor_id => $21,
    p_journal_purpose => $22, p_journal_action => $23, p_journal_route => $24);

-- name: create_hold_lean
-- The common hold (issue 16) in one statement, the person's lock and commit around it only:
-- `debited`, a conditional UPDATE of the person's ledger row (sql/schema.sql, ledger_locks),
-- takes their lock (waiting for any other writer), checks and debits the statutory euros and
-- records them as held; every other part reads it, so nothing is written when it found
-- nothing, and then no row comes back: cpf_hold_create (the debit order as data) decides. It
-- goes ahead only when the person's earmarked grants hold nothing (the debit order would
-- take them first), no stop date has come (stops_on: death, full-rate retirement), the
-- statutory euros suffice, and the key ($11, claimed when $12 is given) is new to this
-- client ($9); the caller has checked that the rule's order takes statutory rights first.
-- All but the key are columns of the row the UPDATE locks, read at its newest version. The
-- balance rows are updated at their newest version (an UPDATE under READ COMMITTED follows a
-- row changed since the snapshot), and ledger_row_checked compares them with the ledger
-- row's columns. No allocation row: the hold took all from statutory rights
-- (cpf_hold_draws), its two entries carry the rule's trace ($14-$16). A repeat racing the
-- first request finds the key taken at the hold's insert (cpf_holds_idempotency_key), which
-- rolls the statement back; the caller then asks cpf_hold_create, which looks under the lock.
with debited as (
    update ledger_locks l
    set statutory_cents = l.statutory_cents - $4::bigint,
        held_cents = l.held_cents + $4::bigint,
        next_pending_expiry = least(l.next_pending_expiry, $6::timestamptz)
    where l.person_id = $1::uuid
      and l.statutory_cents >= $4::bigint
      and (l.stops_on is null or l.stops_on > $8::date)
      and l.earmarked_cents = 0
      and ($12::bytea is null
           or not exists (select from cpf_holds h
                          where h.client_id = $9::text and h.idempotency_key = $11::text
                            and h.request_sha256 is not null)
          and not exists (select from idempotency_keys k
                          where k.client_id = $9::text and k.key = $11::text
                            and k.expires_at > $7::timestamptz))
    returning l.statutory_cents, l.held_cents
), moves (pot, amount) as (
    select m.pot, m.amount
    from debited, (values ('cpf_statutory', -$4::bigint), ('cpf_held', $4::bigint))
         as m(pot, amount)
), balances as (
    insert into ledger_balances as b (person_id, pot, grant_id, balance, unit)
    select $1::uuid, m.pot, null, m.amount, 'cents' from moves m
    on conflict on constraint ledger_balances_key
    do update set balance = b.balance + excluded.balance
    returning b.pot, b.balance
), hold as (
    insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at,
                           client_id, token_jti, created_at, idempotency_key, request_sha256,
                           key_expires_at)
    select $2::uuid, $1::uuid, $4::bigint, $5::text, $6::timestamptz, $9::text, $10::text,
           $7::timestamptz, $11::text, $12::bytea, $13::timestamptz
    from debited
), entries as (
    insert into ledger_entries (person_id, pot, kind, amount, unit, effective_on, correlation_id,
                                hold_id, rule_id, parameter_effective_from, legal_reference,
                                client_id, token_jti, idempotency_key)
    select $1::uuid, m.pot, 'hold', m.amount, 'cents', $8::date, $3::uuid, $2::uuid, $14::text,
           $15::date, $16::text, $9::text, $10::text, $11::text
    from moves m
), journal as (
    insert into access_journal (person_id, client_id, client_kind, client_name, advisor_id,
                                purpose, action, route)
    select $1::uuid, $9::text, $17::text, $18::text, $19::text, $20::text, $21::text, $22::text
    from debited
    where $21::text is not null
)
select ledger_row_checked(
           array[d.statutory_cents, d.held_cents],
           (select array_agg(b.balance order by b.pot desc) from balances b)  -- statutory, held
       ) as outcome
from debited d;

-- name: get_hold
-- One hold of one person with its allocations (JSON, in debit order: cpf_holds_shown).
select h.*
from cpf_holds_shown h
where h.id = $1 and h.person_id = $2;

-- name: lock_hold
-- Lock one hold of one person before changing its status.
select id from cpf_holds where id = $1 and person_id = $2 for update;

-- name: close_hold
-- Move a pending hold to its final status (posted, voided or expired).
update cpf_holds
set status = $2, posted_cents = $3, closed_at = $4
where id = $1 and status = 'pending'
returning id;

-- name: list_expired_holds
-- Pending holds past their expiry, oldest first, skipping those another worker holds.
select id, person_id from cpf_holds
where status = 'pending' and expires_at <= $1
order by expires_at
limit $2
for update skip locked;

-- name: list_person_expired_holds
-- One person's pending holds past their expiry (lazy release before a new hold).
select id from cpf_holds
where person_id = $1 and status = 'pending' and expires_at <= $2
order by expires_at;

-- name: list_holds
-- One person's holds, newest first.
select h.*
from cpf_holds_shown h
where h.person_id = $1
order by h.created_at desc, h.id
limit $2;

-- name: list_client_holds
-- One page of the holds a client created, newest first, by status and creation time
-- ($3 on or after, $4 before), after the cursor ($5, $6: created_at and id of the last seen).
select h.*
from cpf_holds_shown h
where h.client_id = $1
  and ($2::text is null or h.status = $2)
  and ($3::timestamptz is null or h.created_at >= $3)
  and ($4::timestamptz is null or h.created_at < $4)
  and ($5::timestamptz is null or (h.created_at, h.id) < ($5, $6::uuid))
order by h.created_at desc, h.id desc
limit $7;

-- name: insert_grant
-- Open an abondement or dotation sub-pot for a person.
insert into ledger_grants (person_id, pot, financer, earmarked, training_reference, use_by)
values ($1, $2, $3, $4, $5, $6)
returning id, person_id, pot, financer, earmarked, training_reference, use_by;

-- name: list_ledger_credits
-- What was credited to one person, per year and account, with the inputs used.
select year, account, unit, amount, balance_before, inputs_sha256
from ledger_credits where person_id = $1;

-- name: upsert_ledger_credit
-- Record what a year now credits for one account (a correction replaces amount and inputs).
insert into ledger_credits as c (person_id, year, account, unit, amount, balance_before,
                                 inputs_sha256, credited_on)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict on constraint ledger_credits_pkey
do update set amount = excluded.amount, inputs_sha256 = excluded.inputs_sha256,
              credited_on = excluded.credited_on;

-- name: get_held_cents
-- The euros of one person's pending holds taken from the pots that ceilings read.
select coalesce(sum(a.amount_cents) filter (where a.pot = 'cpf_statutory'), 0)::bigint
           as statutory_cents,
       coalesce(sum(a.amount_cents) filter (where a.pot = 'cec'), 0)::bigint as cec_cents
from cpf_holds h
join cpf_hold_draws a on a.hold_id = h.id
where h.person_id = $1 and h.status = 'pending';

-- name: list_persons_to_credit
-- Persons with any declaration for a year, in a stable order (a re-run walks the same list).
select person_id from activity_declarations where year = $1
union
select person_id from c2p_exposure_declarations where year = $1
union
select person_id from cec_engagements where year = $1
order by 1;

-- name: get_c2p_state
-- A person's birth date, C2P points balance and points already used, by use (JSON).
select p.birth_date,
       coalesce((select balance from ledger_balances
                 where person_id = p.id and pot = 'c2p'), 0) as points,
       c2p_points_used(p.id)::text as points_used
from persons p
where p.id = $1;

-- name: get_c2p_conversion
-- One use of C2P points of one person, as recorded.
select id, use, points, reserved_points_used, converted_on, amount_cents, part_time_days,
       retirement_quarters, training_reference, grant_id, created_at
from c2p_conversions
where id = $1 and person_id = $2;

-- name: insert_c2p_conversion
-- Record what a use of C2P points bought.
insert into c2p_conversions (id, person_id, use, points, reserved_points_used, amount_cents,
                             part_time_days, retirement_quarters, training_reference, grant_id,
                             converted_on)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: get_account
-- The account of one person as its ledger row holds it (sql/schema.sql, ledger_locks): one
-- primary-key lookup. Read-only: the access journal line of the read is appended by
-- cpa.auth.access_log's batch writer.
select statutory_cents, held_cents, cec_cents, c2p_points, abondement_cents, earmarked_cents,
       grants_use_by_min, next_pending_expiry, summary
from ledger_locks
where person_id = $1;

-- name: get_account_available
-- What a debit could draw on today from the balance rows themselves (pots_for_debit, in the
-- debit order $3 and after-retirement sources $4 of cpa/rules/debit.py): the exact path of a
-- read past a grant's use-by date.
select coalesce(sum(d.balance) filter (where d.usable), 0)::bigint as available_cents
from pots_for_debit($1, $2, null, true, $3, $4) as d;

-- name: settle_account_row
-- Set the ledger row's next_pending_expiry to the earliest pending hold's expiry (under the
-- person's lock): after a read found the bound past and released the lapsed holds.
select account_row_settle($1);

-- name: list_stale_account_summaries
-- Persons whose account summary differs from a fresh build (or who have none).
select p.id as person_id
from persons p
left join ledger_locks l on l.person_id = p.id
where l.person_id is null or l.summary::text <> account_summary_of(p.id)::text
   or l.stops_on is distinct from least(p.death_on, p.full_rate_retirement_on);

-- name: list_account_row_mismatches
-- Ledger rows whose account columns differ from a fresh build (account_row_of), as (person,
-- column, stored, built; the dates' values left out). next_pending_expiry is a lower bound,
-- in error only above the earliest pending expiry (or missing while a hold is pending).
select l.person_id, c.name as pot, c.stored as balance, c.built as entries_sum
from ledger_locks l
cross join lateral account_row_of(l.person_id) as r
cross join lateral (values
    ('cec_cents', l.cec_cents, r.cec_cents, l.cec_cents = r.cec_cents),
    ('c2p_points', l.c2p_points, r.c2p_points, l.c2p_points = r.c2p_points),
    ('abondement_cents', l.abondement_cents, r.abondement_cents,
     l.abondement_cents = r.abondement_cents),
    ('earmarked_cents', l.earmarked_cents, r.earmarked_cents,
     l.earmarked_cents = r.earmarked_cents),
    ('grants_use_by_min', null, null,
     l.grants_use_by_min is not distinct from r.grants_use_by_min),
    ('next_pending_expiry', null, null,
     r.next_pending_expiry is null or l.next_pending_expiry <= r.next_pending_expiry)
) as c(name, stored, built, same)
where not coalesce(c.same, false);

-- name: list_entries
-- One page of a person's entries, newest first, filtered by pots, kind and effective dates. A
-- hold's id only to the client that created it ($8; null: to everyone): to another, the entry
-- is an amount without its counterparty.
select id, pot, kind, amount, unit, effective_on, correlation_id, grant_id,
       case when $8::text is null
                 or exists (select 1 from cpf_holds h where h.id = hold_id and h.client_id = $8)
            then hold_id end as hold_id,
       credit_year, rule_id, legal_reference, declaration_id, created_at
from ledger_entries
where person_id = $1
  and pot = any($2::text[])
  and ($3::text is null or kind = $3)
  and ($4::date is null or effective_on >= $4)
  and ($5::date is null or effective_on <= $5)
  and ($6::bigint is null or id < $6)
order by id desc
limit $7;

-- name: get_entry_explanation
-- One entry with its provenance and its source declaration (any of the three kinds); a hold's
-- id only to the client that created it ($3), as list_entries.
select e.id, e.pot, e.kind, e.amount, e.unit, e.effective_on, e.correlation_id, e.grant_id,
       case when $3::text is null
                 or exists (select 1 from cpf_holds h where h.id = e.hold_id and h.client_id = $3)
            then e.hold_id end as hold_id,
       e.credit_year, e.rule_id, e.legal_reference, e.declaration_id, e.created_at,
       e.parameter_effective_from, e.trace::text as trace,
       d.kind as declaration_kind, d.year as declaration_year, d.body as declaration_body,
       d.created_at as declaration_created_at
from ledger_entries e
left join lateral (
    select 'activity' as kind, year, body::text as body, created_at
    from activity_declarations where id = e.declaration_id
    union all
    select 'c2p_exposure', year, body::text, created_at
    from c2p_exposure_declarations where id = e.declaration_id
    union all
    select 'cec_engagement', year, body::text, created_at
    from cec_engagements where id = e.declaration_id
) d on true
where e.id = $1 and e.person_id = $2;

-- name: claim_idempotency_key
-- Claim a key for a new request (or take over an expired one); no row back when it is in use,
-- here or by a hold (which keeps its key in its row, cpf_holds_idempotency_key).
insert into idempotency_keys as k (client_id, key, request_sha256, response, created_at,
                                   expires_at)
select $1::text, $2::text, $3::bytea, '', $4::timestamptz, $5::timestamptz
where not exists (select from cpf_holds h
                  where h.client_id = $1 and h.idempotency_key = $2
                    and h.request_sha256 is not null and h.key_expires_at > $4)
on conflict on constraint idempotency_keys_pkey
do update set request_sha256 = excluded.request_sha256, response = '',
              created_at = excluded.created_at, expires_at = excluded.expires_at
where k.expires_at <= excluded.created_at
returning client_id;

-- name: store_idempotency_response
-- Keep the response of the request that claimed the key.
update idempotency_keys set response = $3 where client_id = $1 and key = $2;

-- name: get_idempotency_key
-- The request digest and stored response of a key in use.
select request_sha256, response from idempotency_keys where client_id = $1 and key = $2;

-- name: purge_idempotency_keys
-- Forget up to $2 keys past their lifetime (oldest first, by the expiry index).
delete from idempotency_keys
where (client_id, key) in (
    select client_id, key from idempotency_keys
    where expires_at <= $1
    order by expires_at
    limit $2
);
