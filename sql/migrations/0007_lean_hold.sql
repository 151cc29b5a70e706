-- Issue 16 point 2: the lean hold. The person's ledger row carries the statutory and held
-- balances (a checked mirror of their ledger_balances rows), so the common hold is one
-- conditional UPDATE of that row plus the writes that follow from it (create_hold_lean,
-- sql/ledger.sql); the debit order as data (cpf_hold_create) serves the rest and keeps the
-- mirror too. A hold keeps its own idempotency key and request digest (no idempotency_keys
-- row per hold) and a repeat is answered from the hold row; a hold that statutory rights
-- alone pay for needs no allocation row (cpf_hold_draws).

alter table ledger_locks
    add column statutory_cents bigint not null default 0,
    add column held_cents bigint not null default 0,
    add column next_pending_expiry timestamptz,  -- a lower bound (0008_account_row.sql)
    add constraint ledger_locks_held_cents_nonnegative check (held_cents >= 0);

update ledger_locks l
set statutory_cents = coalesce((select b.balance from ledger_balances b
                                where b.person_id = l.person_id and b.pot = 'cpf_statutory'
                                  and b.grant_id is null), 0),
    held_cents = coalesce((select b.balance from ledger_balances b
                           where b.person_id = l.person_id and b.pot = 'cpf_held'
                             and b.grant_id is null), 0);

-- The key a hold was created under (recorded even when unclaimed, as on its entries), and
-- when claimed (Idempotency-Key over HTTP) the request's digest and the key's end of life:
-- unique per client while claimed.
alter table cpf_holds
    add column idempotency_key text,
    add column request_sha256 bytea,
    add column key_expires_at timestamptz;
create unique index cpf_holds_idempotency_key on cpf_holds (client_id, idempotency_key)
    where request_sha256 is not null;

-- Where each hold took its euros from, in debit order (seq): its allocation rows, or, for a
-- hold that has none, its whole amount from statutory rights. The lean hold (issue 16,
-- create_hold_lean) writes no allocation row, its rule trace being on its two entries; the
-- debit order's hold (cpf_hold_create) always writes at least one. Every reader of
-- allocations reads this view, never the table alone.
create view cpf_hold_draws as
select a.hold_id, a.seq, a.pot, a.grant_id, a.amount_cents
from cpf_hold_allocations a
union all
select h.id, 1, 'cpf_statutory', null::uuid, h.amount_cents
from cpf_holds h
where not exists (select from cpf_hold_allocations a where a.hold_id = h.id);

-- A hold as the API shows it, its allocations as JSON (get_hold, list_holds,
-- list_client_holds: one definition).
create view cpf_holds_shown as
select h.id, h.person_id, h.amount_cents, h.training_reference, h.expires_at, h.status,
       h.posted_cents, h.created_at, h.closed_at, h.client_id,
       (select coalesce(jsonb_agg(jsonb_build_object(
                   'pot', a.pot, 'grant_id', a.grant_id, 'amount_cents', a.amount_cents)
               order by a.seq), '[]')::text
        from cpf_hold_draws a where a.hold_id = h.id) as allocations
from cpf_holds h;

-- The unit of each ledger pot (cpa/rules/accounts.py: POT_UNITS); null for an unknown pot.
-- A standard SQL body (begin atomic), stored parsed: the CHECK constraints of ledger_entries
-- call it, and PostgreSQL plans a table's CHECKs anew for each statement that writes it,
-- inlining this function each time; from a string body that meant running the SQL parser
-- and analyser twice per statement (~4 % of a hold's CPU, issue 16).
create or replace function pot_unit(p_pot text) returns text
language sql immutable parallel safe
begin atomic
    select case p_pot
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

-- The debit order's hold in functions of at most a screen each, the journal line as named
-- arguments (no positional text[] of mixed meanings), the mirror kept, the key in the hold.
drop function cpf_hold_create(uuid, uuid, bigint, text, timestamptz, timestamptz, date, text,
                              text, text, bytea, timestamptz, text[], text[], text[], text,
                              date, text);

create function cpf_hold_create(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_request_sha256 bytea, p_key_expires_at timestamptz,
    p_debit_order text[], p_debit_after_retirement text[], p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text, p_journal_client_id text,
    p_journal_client_kind text, p_journal_client_name text, p_journal_advisor_id text,
    p_journal_purpose text, p_journal_action text, p_journal_route text
) returns table (outcome text, hold text, available_cents bigint)
language plpgsql as $$
declare
    v_locked boolean;
    v_known text;
    v_response text;
    v_draw record;
begin
    -- 1. The person's lock, then (a new snapshot) the key: a repeat (or a clash) answers from
    -- the hold that has it (or the store) and writes nothing.
    perform 1 from ledger_locks a where a.person_id = p_person_id for update;
    v_locked := found;  -- no ledger yet: no rights to hold
    if p_request_sha256 is not null then  -- a key to claim (else the key is only recorded)
        select k.outcome, k.hold into v_known, v_response
        from cpf_hold_key_used(p_client_id, p_idempotency_key, p_request_sha256, p_now) as k;
        if v_known is not null then
            return query select v_known, v_response, null::bigint;
            return;
        end if;
    end if;
    -- 2. The debit order; nothing written when the rights do not suffice.
    select * into v_draw
    from cpf_hold_allocation(p_person_id, p_on, p_training_reference, p_amount_cents,
                             p_debit_order, p_debit_after_retirement);
    if not v_locked or v_draw.missing_cents > 0 then
        return query select
            case when exists (select 1 from cpf_holds h
                              where h.person_id = p_person_id and h.status = 'pending'
                                and h.expires_at <= p_now)
                 then 'lapsed' else 'insufficient' end,
            null::text, case when v_locked then p_amount_cents - v_draw.missing_cents else 0 end;
        return;
    end if;
    -- 3. The writes (the key in the hold row) and the journal line.
    v_response := cpf_hold_write(
        p_person_id, p_hold_id, p_amount_cents, p_training_reference, p_expires_at, p_now, p_on,
        p_client_id, p_token_jti, p_idempotency_key, p_request_sha256, p_key_expires_at,
        v_draw.pots, v_draw.grants, v_draw.amounts, p_rule_id, p_parameter_effective_from,
        p_legal_reference);
    if p_journal_action is not null then
        insert into access_journal
            (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
        values (p_person_id, p_journal_client_id, p_journal_client_kind, p_journal_client_name,
                p_journal_advisor_id, p_journal_purpose, p_journal_action, p_journal_route);
    end if;
    return query select 'created', v_response, null::bigint;
end;
$$;

-- cpf_hold_create's step 1: what a claimed key already says, under the person's lock:
-- 'replayed' (the same request: the hold as it was created) or 'conflict' (another request),
-- no row when the key is free. A hold keeps its key while the key lives (KEY_LIFETIME,
-- cpa/idempotency); past that the key is free again, and the hold gives it up here.
-- idempotency_keys holds the keys of other writes, and of holds made before issue 16.
create function cpf_hold_key_used(
    p_client_id text, p_key text, p_request_sha256 bytea, p_now timestamptz
) returns table (outcome text, hold text)
language plpgsql as $$
declare
    v_hold_id uuid;
    v_same boolean;
    v_alive boolean;
    v_response bytea;
begin
    select h.id, h.request_sha256 = p_request_sha256, h.key_expires_at > p_now
    into v_hold_id, v_same, v_alive
    from cpf_holds h
    where h.client_id = p_client_id and h.idempotency_key = p_key
      and h.request_sha256 is not null;
    if v_alive then
        return query select case when v_same then 'replayed' else 'conflict' end,
                            cpf_hold_as_created(v_hold_id);
        return;
    elsif v_hold_id is not null then
        update cpf_holds set request_sha256 = null where id = v_hold_id;
    end if;
    select k.request_sha256 = p_request_sha256, k.response into v_same, v_response
    from idempotency_keys k
    where k.client_id = p_client_id and k.key = p_key and k.expires_at > p_now;
    if found then
        return query select case when v_same then 'replayed' else 'conflict' end,
                            convert_from(v_response, 'UTF8');
    end if;
end;
$$;

-- A hold as its creation answered it (pending, its allocations in debit order): what a
-- repeat of the request that created it gets.
create function cpf_hold_as_created(p_hold_id uuid) returns text
language sql stable as $$
    select jsonb_build_object(
        'id', h.id, 'person_id', h.person_id, 'amount_cents', h.amount_cents,
        'training_reference', h.training_reference, 'expires_at', h.expires_at,
        'status', 'pending', 'posted_cents', null, 'created_at', h.created_at,
        'closed_at', null, 'client_id', h.client_id,
        'allocations', (select jsonb_agg(jsonb_build_object(
                                 'pot', a.pot, 'grant_id', a.grant_id,
                                 'amount_cents', a.amount_cents) order by a.seq)
                        from cpf_hold_draws a where a.hold_id = h.id))::text
    from cpf_holds h
    where h.id = p_hold_id
$$;

-- cpf_hold_create's step 2: what the hold takes from each usable pot, in the debit order
-- (pots_for_debit with the rule's order), as parallel arrays, and the cents still missing.
create function cpf_hold_allocation(
    p_person_id uuid, p_on date, p_training_reference text, p_amount_cents bigint,
    p_debit_order text[], p_debit_after_retirement text[],
    out pots text[], out grants uuid[], out amounts bigint[], out missing_cents bigint
)
language plpgsql as $$
declare
    v_source record;
    v_take bigint;
begin
    pots := '{}';
    grants := '{}';
    amounts := '{}';
    missing_cents := p_amount_cents;
    for v_source in
        select s.pot, s.grant_id, s.balance
        from pots_for_debit(p_person_id, p_on, p_training_reference, false, p_debit_order,
                            p_debit_after_retirement) as s
        where s.usable
        order by s.draw_key collate "C"
    loop
        exit when missing_cents = 0;
        v_take := least(missing_cents, v_source.balance);
        pots := pots || v_source.pot;
        grants := grants || v_source.grant_id;
        amounts := amounts || v_take;
        missing_cents := missing_cents - v_take;
    end loop;
end;
$$;

-- cpf_hold_create's step 3: the hold, where its euros come from (with the rule that decided
-- the order) and under which key, the paired entries with their balances and the ledger
-- row's mirror of them; returns the hold as its creation answers it.
create function cpf_hold_write(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_request_sha256 bytea, p_key_expires_at timestamptz,
    p_pots text[], p_grants uuid[], p_amounts bigint[], p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text
) returns text
language plpgsql as $$
declare
    v_correlation uuid := gen_random_uuid();  -- one per hold, shared by its entries
begin
    insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at, client_id,
                           token_jti, created_at, idempotency_key, request_sha256, key_expires_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_reference, p_expires_at, p_client_id,
            p_token_jti, p_now, p_idempotency_key, p_request_sha256, p_key_expires_at);
    insert into cpf_hold_allocations (hold_id, seq, pot, grant_id, amount_cents, rule_id,
                                      parameter_effective_from, legal_reference)
    select p_hold_id, a.seq, a.pot, a.grant_id, a.amount_cents, p_rule_id,
           p_parameter_effective_from, p_legal_reference
    from unnest(p_pots, p_grants, p_amounts) with ordinality as a(pot, grant_id, amount_cents, seq);
    insert into ledger_entries (person_id, pot, grant_id, kind, amount, unit, effective_on,
                                correlation_id, hold_id, rule_id, parameter_effective_from,
                                legal_reference, client_id, token_jti, idempotency_key)
    select p_person_id, a.pot, a.grant_id, 'hold', a.amount, pot_unit(a.pot), p_on,
           v_correlation, p_hold_id, p_rule_id, p_parameter_effective_from, p_legal_reference,
           p_client_id, p_token_jti, p_idempotency_key
    from unnest(p_pots || 'cpf_held'::text, p_grants || null::uuid,
                array(select -x from unnest(p_amounts) as x) || p_amount_cents)
         as a(pot, grant_id, amount);
    update ledger_balances b set balance = b.balance - a.amount
    from unnest(p_pots, p_grants, p_amounts) as a(pot, grant_id, amount)
    where b.person_id = p_person_id and b.pot = a.pot
      and b.grant_id is not distinct from a.grant_id;
    insert into ledger_balances as b (person_id, pot, grant_id, balance, unit)
    values (p_person_id, 'cpf_held', null, p_amount_cents, pot_unit('cpf_held'))
    on conflict on constraint ledger_balances_key
    do update set balance = b.balance + excluded.balance;
    update ledger_locks l  -- the columns that mirror the statutory and held balances
    set statutory_cents = l.statutory_cents - coalesce(
            (select sum(a.amount) from unnest(p_pots, p_amounts) as a(pot, amount)
             where a.pot = 'cpf_statutory'), 0),
        held_cents = l.held_cents + p_amount_cents,
        next_pending_expiry = least(l.next_pending_expiry, p_expires_at)
    where l.person_id = p_person_id;
    return jsonb_build_object(
        'id', p_hold_id, 'person_id', p_person_id, 'amount_cents', p_amount_cents,
        'training_reference', p_training_reference, 'expires_at', p_expires_at, 'status', 'pending',
        'posted_cents', null, 'created_at', p_now, 'closed_at', null, 'client_id', p_client_id,
        'allocations', (select jsonb_agg(jsonb_build_object(
                            'pot', a.pot, 'grant_id', a.grant_id, 'amount_cents', a.amount)
                            order by a.seq)
                        from unnest(p_pots, p_grants, p_amounts) with ordinality
                             as a(pot, grant_id, amount, seq)))::text;
end;
$$;

-- The check that ends create_hold_lean (sql/ledger.sql): the ledger row's statutory and held
-- columns after the hold equal the balance rows they mirror, or the whole statement is undone
-- (a programmer error: some writer moved one without the other).
create function ledger_row_checked(p_row bigint[], p_balances bigint[]) returns text
language plpgsql as $$
begin
    if p_row is distinct from p_balances then
        raise exception 'ledger row % disagrees with its balances %', p_row, p_balances;
    end if;
    return 'created';
end;
$$;
