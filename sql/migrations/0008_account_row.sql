-- Issue 16 point 3: the account read as one row. The person's ledger row (ledger_locks), which
-- every writer already locks and the common hold already updates, carries everything the
-- account shows: the summary document (formerly the table account_summaries), the
-- balances and the inputs of "available" by debit source, the earliest use-by date of a grant
-- that still holds euros and (next_pending_expiry, added by 0007 and lowered by every hold)
-- a lower bound of the earliest pending hold's expiry. The read is one primary-key lookup; it
-- takes a slower exact path only past one of those two dates.

alter table ledger_locks
    add column cec_cents bigint not null default 0,
    add column c2p_points bigint not null default 0,
    add column abondement_cents bigint not null default 0,
    add column earmarked_cents bigint not null default 0,
    add column grants_use_by_min date,
    add column summary json not null default '{}'::json;

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

-- The document also names the person's stop dates (death, full-rate retirement): the read
-- applies them to the debit sources as pots_for_debit does.
create or replace function account_summary_of(p_person_id uuid) returns json
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

-- Every person gets a ledger row (created with the person from now on), filled from the tables.
insert into ledger_locks (person_id) select id from persons on conflict (person_id) do nothing;
update ledger_locks l
set (cec_cents, c2p_points, abondement_cents, earmarked_cents, grants_use_by_min,
     next_pending_expiry) = (select * from account_row_of(l.person_id)),
    summary = account_summary_of(l.person_id);

-- The summary now lives in the ledger row.
drop table account_summaries;

-- The row's lock first (the person's ledger lock), then the document, built by a later
-- statement with a snapshot taken once the lock is held: a transaction that changed the same
-- account meanwhile has committed by then, and its change is in.
create or replace function account_summary_refresh(p_person_id uuid) returns void
language plpgsql as $$
begin
    insert into ledger_locks (person_id) values (p_person_id) on conflict (person_id) do nothing;
    perform 1 from ledger_locks where person_id = p_person_id for update;
    update ledger_locks set summary = account_summary_of(p_person_id)
    where person_id = p_person_id;
end;
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
