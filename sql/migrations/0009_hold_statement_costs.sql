-- Issue 16: what a hold's statement costs PostgreSQL before it writes anything.

-- The unit of each ledger pot (cpa/rules/accounts.py: POT_UNITS); null for an unknown pot.
-- Two CHECK constraints of ledger_entries call it, and PostgreSQL builds a table's CHECKs
-- again for each statement that writes it. A SQL function is inlined there, so each
-- statement read its stored body back into a query tree and planned it, twice: ~80 µs of a
-- hold's ~450 µs of CPU (perf, issue 16). A PL/pgSQL function is never inlined: the CHECK
-- is compiled as a plain call, and each row's call evaluates one cached CASE (~1 µs).
create or replace function pot_unit(p_pot text) returns text
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

-- The person's ledger row keeps the earliest pending expiry (next_pending_expiry, 0007):
-- the lapsed-hold probes of one person (before a hold that would not fit, a read past that
-- date, account_row_settle) walk that person's holds by cpf_holds_person_idx, and a hold
-- writes one index entry fewer.
drop index cpf_holds_person_pending_idx;

-- The person's stop date in their ledger row: the earliest of their death and full-rate
-- retirement dates (persons), kept with the summary document that already names both
-- (account_summary_refresh, run by the statement triggers on persons). The common hold
-- reads it there instead of joining persons; ledger verify compares it with persons.
alter table ledger_locks add column stops_on date;
update ledger_locks l
set stops_on = least(p.death_on, p.full_rate_retirement_on)
from persons p
where p.id = l.person_id;

create or replace function account_summary_refresh(p_person_id uuid) returns void
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
