-- Issue 16 point 2: the lean hold. The person's ledger row carries the statutory and held
-- balances (a checked mirror of their ledger_balances rows), so the common hold is one
-- conditional UPDATE of that row plus the writes that follow from it (cpf_hold_lean); the
-- debit order as data (cpf_hold_create) serves the rest and keeps the mirror too.

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

-- The debit order's hold in functions of at most a screen each, the journal line as named
-- arguments (no positional text[] of mixed meanings), the mirror kept (sql/schema.sql).
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
    v_same boolean;
    v_response bytea;
    v_draw record;
    v_text text;
begin
    -- 1. The person's lock, then (a new snapshot) the key: a repeat (or a clash) answers from
    -- the store and writes nothing.
    perform 1 from ledger_locks a where a.person_id = p_person_id for update;
    v_locked := found;  -- no ledger yet: no rights to hold
    if p_request_sha256 is not null then  -- a key to claim (else the key is only recorded)
        select k.request_sha256 = p_request_sha256, k.response into v_same, v_response
        from idempotency_keys k
        where k.client_id = p_client_id and k.key = p_idempotency_key and k.expires_at > p_now;
        if found then
            return query select case when v_same then 'replayed' else 'conflict' end,
                                convert_from(v_response, 'UTF8'), null::bigint;
            return;
        end if;
    end if;
    -- 2. The debit order; nothing written, no key either, when the rights do not suffice.
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
    -- 3. The writes, the journal line, and the key with the response a repeat will get.
    v_text := cpf_hold_write(p_person_id, p_hold_id, p_amount_cents, p_training_reference,
                             p_expires_at, p_now, p_on, p_client_id, p_token_jti,
                             p_idempotency_key, v_draw.pots, v_draw.grants, v_draw.amounts,
                             p_rule_id, p_parameter_effective_from, p_legal_reference);
    if p_journal_action is not null then
        insert into access_journal
            (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
        values (p_person_id, p_journal_client_id, p_journal_client_kind, p_journal_client_name,
                p_journal_advisor_id, p_journal_purpose, p_journal_action, p_journal_route);
    end if;
    if p_request_sha256 is not null then
        perform idempotency_key_store(p_client_id, p_idempotency_key, p_request_sha256,
                                      convert_to(v_text, 'UTF8'), p_now, p_key_expires_at);
    end if;
    return query select 'created', v_text, null::bigint;
end;
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
-- the order), the paired entries with their balances and the ledger row's mirror of them;
-- returns the hold as a repeat of the request will get it.
create function cpf_hold_write(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_pots text[], p_grants uuid[], p_amounts bigint[], p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text
) returns text
language plpgsql as $$
declare
    v_correlation uuid := gen_random_uuid();  -- one per hold, shared by its entries
begin
    insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at, client_id,
                           token_jti, created_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_reference, p_expires_at, p_client_id,
            p_token_jti, p_now);
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

-- Store a claimed key with the response a repeat will get (or take over an expired one); a key
-- taken meanwhile by another request (not waiting for the same person's lock) raises
-- idempotency_key_taken, which rolls the whole statement back: the caller answers 409.
create function idempotency_key_store(
    p_client_id text, p_key text, p_request_sha256 bytea, p_response bytea, p_now timestamptz,
    p_expires_at timestamptz
) returns void
language plpgsql as $$
begin
    insert into idempotency_keys as k (client_id, key, request_sha256, response, created_at,
                                       expires_at)
    values (p_client_id, p_key, p_request_sha256, p_response, p_now, p_expires_at)
    on conflict on constraint idempotency_keys_pkey
    do update set request_sha256 = excluded.request_sha256, response = excluded.response,
                  created_at = excluded.created_at, expires_at = excluded.expires_at
    where k.expires_at <= excluded.created_at;
    if not found then
        raise exception 'idempotency_key_taken' using errcode = 'unique_violation',
            constraint = 'idempotency_keys_pkey';
    end if;
end;
$$;

-- The writes of cpf_hold_lean, one statement: `debited` takes the person's lock (waiting for
-- any other writer), checks and moves the ledger row's columns; every other part reads it, so
-- writes nothing when it found nothing. The balance rows are updated at their newest version
-- (an UPDATE under READ COMMITTED follows a row changed since the snapshot), and the columns'
-- new values come back beside the balances' for the caller to compare. An earmarked grant
-- sends the hold to the debit order even when empty (a rare case, kept simple).
create function cpf_hold_lean_write(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text, p_token_jti text,
    p_idempotency_key text, p_rule_id text, p_parameter_effective_from date,
    p_legal_reference text, p_journal_client_kind text, p_journal_client_name text,
    p_journal_advisor_id text, p_journal_purpose text, p_journal_action text,
    p_journal_route text
) returns table (cached bigint[], balances bigint[])
language plpgsql as $$
begin
    return query
    with debited as (
        update ledger_locks l
        set statutory_cents = l.statutory_cents - p_amount_cents,
            held_cents = l.held_cents + p_amount_cents,
            next_pending_expiry = least(l.next_pending_expiry, p_expires_at)
        from persons p
        where l.person_id = p_person_id and p.id = p_person_id
          and l.statutory_cents >= p_amount_cents
          and (p.death_on is null or p.death_on > p_on)
          and (p.full_rate_retirement_on is null or p.full_rate_retirement_on > p_on)
          and not exists (select 1 from ledger_grants g
                          where g.person_id = p_person_id and (g.pot = 'dotation' or g.earmarked))
        returning l.statutory_cents, l.held_cents
    ), statutory as (
        update ledger_balances b set balance = b.balance - p_amount_cents
        from debited
        where b.person_id = p_person_id and b.pot = 'cpf_statutory' and b.grant_id is null
        returning b.balance
    ), held as (
        insert into ledger_balances as b (person_id, pot, grant_id, balance, unit)
        select p_person_id, 'cpf_held', null, p_amount_cents, 'cents' from debited
        on conflict on constraint ledger_balances_key
        do update set balance = b.balance + excluded.balance
        returning b.balance
    ), hold as (
        insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at,
                               client_id, token_jti, created_at)
        select p_hold_id, p_person_id, p_amount_cents, p_training_reference, p_expires_at,
               p_client_id, p_token_jti, p_now
        from debited
    ), allocation as (
        insert into cpf_hold_allocations (hold_id, seq, pot, amount_cents, rule_id,
                                          parameter_effective_from, legal_reference)
        select p_hold_id, 1, 'cpf_statutory', p_amount_cents, p_rule_id,
               p_parameter_effective_from, p_legal_reference
        from debited
    ), entries as (
        insert into ledger_entries (person_id, pot, kind, amount, unit, effective_on,
                                    correlation_id, hold_id, rule_id, parameter_effective_from,
                                    legal_reference, client_id, token_jti, idempotency_key)
        select p_person_id, e.pot, 'hold', e.amount, 'cents', p_on, c.id, p_hold_id, p_rule_id,
               p_parameter_effective_from, p_legal_reference, p_client_id, p_token_jti,
               p_idempotency_key
        from debited, (select gen_random_uuid() as id) as c,
             (values ('cpf_statutory', -p_amount_cents), ('cpf_held', p_amount_cents))
             as e(pot, amount)
    ), journal as (
        insert into access_journal (person_id, client_id, client_kind, client_name, advisor_id,
                                    purpose, action, route)
        select p_person_id, p_client_id, p_journal_client_kind, p_journal_client_name,
               p_journal_advisor_id, p_journal_purpose, p_journal_action, p_journal_route
        from debited
        where p_journal_action is not null
    )
    select array[d.statutory_cents, d.held_cents], array[s.balance, h.balance]
    from debited d left join statutory s on true left join held h on true;
end;
$$;

-- The common hold (issue 16): one conditional UPDATE of the person's ledger row takes their
-- lock, checks and debits the statutory euros and records them as held; the same statement
-- moves the balance rows those columns mirror and writes the hold, its allocation, its two
-- entries and the journal line. Only when the rule's order takes statutory rights first
-- (the caller decides that from cpa/rules/debit.py) and the person has no earmarked grant, no
-- stop date (death, full-rate retirement) and enough statutory euros; otherwise it writes
-- nothing and answers 'generic' (cpf_hold_create, the debit order as data, decides).
--
-- The key is looked up before the lock (most requests have a new one): a concurrent repeat
-- finds it taken at the final insert, which raises idempotency_key_taken and rolls the hold
-- back; the caller then asks cpf_hold_create, which looks it up under the lock and replays.
-- The response is the caller's (p_response, built in Python from what it sent).
create function cpf_hold_lean(
    p_person_id uuid, p_hold_id uuid, p_amount_cents bigint, p_training_reference text,
    p_expires_at timestamptz, p_now timestamptz, p_on date, p_client_id text,
    p_token_jti text, p_idempotency_key text, p_request_sha256 bytea,
    p_key_expires_at timestamptz, p_response bytea, p_rule_id text,
    p_parameter_effective_from date, p_legal_reference text,
    p_journal_client_kind text, p_journal_client_name text, p_journal_advisor_id text,
    p_journal_purpose text, p_journal_action text, p_journal_route text
) returns table (outcome text, hold text)
language plpgsql as $$
declare
    v_same boolean;
    v_stored bytea;
    v_cached bigint[];
    v_balances bigint[];
begin
    if p_request_sha256 is not null then
        select k.request_sha256 = p_request_sha256, k.response into v_same, v_stored
        from idempotency_keys k
        where k.client_id = p_client_id and k.key = p_idempotency_key and k.expires_at > p_now;
        if found then
            return query select case when v_same then 'replayed' else 'conflict' end,
                                convert_from(v_stored, 'UTF8');
            return;
        end if;
    end if;
    select l.cached, l.balances into v_cached, v_balances
    from cpf_hold_lean_write(p_person_id, p_hold_id, p_amount_cents, p_training_reference,
                             p_expires_at, p_now, p_on, p_client_id, p_token_jti,
                             p_idempotency_key, p_rule_id, p_parameter_effective_from,
                             p_legal_reference, p_journal_client_kind, p_journal_client_name,
                             p_journal_advisor_id, p_journal_purpose, p_journal_action,
                             p_journal_route) as l;
    if v_cached is null then
        return query select 'generic', null::text;
        return;
    end if;
    if v_cached is distinct from v_balances then  -- a programmer error: undo everything
        raise exception 'ledger row % disagrees with its balances % ', v_cached, v_balances;
    end if;
    if p_request_sha256 is not null then
        insert into idempotency_keys as k (client_id, key, request_sha256, response, created_at,
                                           expires_at)
        values (p_client_id, p_idempotency_key, p_request_sha256, p_response, p_now,
                p_key_expires_at)
        on conflict on constraint idempotency_keys_pkey
        do update set request_sha256 = excluded.request_sha256, response = excluded.response,
                      created_at = excluded.created_at, expires_at = excluded.expires_at
        where k.expires_at <= excluded.created_at;
        if not found then
            raise exception 'idempotency_key_taken' using errcode = 'unique_violation',
                constraint = 'idempotency_keys_pkey';
        end if;
    end if;
    return query select 'created', null::text;
end;
$$;
