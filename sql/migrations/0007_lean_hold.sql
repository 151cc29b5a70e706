-- Issue 16 point 2: the lean hold. The person's ledger row carries the statutory and held
-- balances (a checked mirror of their ledger_balances rows), so the common hold is one
-- conditional UPDATE of that row plus the writes that follow from it (cpf_hold_lean); the
-- debit order as data (cpf_hold_create) serves the rest and keeps the mirror too.

alter table ledger_locks
    add column statutory_cents bigint not null default 0,
    add column held_cents bigint not null default 0,
    add constraint ledger_locks_held_cents_nonnegative check (held_cents >= 0);

update ledger_locks l
set statutory_cents = coalesce((select b.balance from ledger_balances b
                                where b.person_id = l.person_id and b.pot = 'cpf_statutory'
                                  and b.grant_id is null), 0),
    held_cents = coalesce((select b.balance from ledger_balances b
                           where b.person_id = l.person_id and b.pot = 'cpf_held'
                             and b.grant_id is null), 0);

create or replace function cpf_hold_create(
    p_person_id uuid,
    p_hold_id uuid,
    p_amount_cents bigint,
    p_training_reference text,
    p_expires_at timestamptz,
    p_now timestamptz,
    p_on date,
    p_client_id text,
    p_token_jti text,
    p_idempotency_key text,
    p_request_sha256 bytea,
    p_key_expires_at timestamptz,
    p_journal text[],
    p_debit_order text[],
    p_debit_after_retirement text[],
    p_rule_id text,
    p_parameter_effective_from date,
    p_legal_reference text
) returns table (outcome text, hold text, available_cents bigint)
language plpgsql as $$
declare
    v_locked boolean;
    v_remaining bigint := p_amount_cents;
    v_take bigint;
    v_source record;
    v_pots text[] := '{}';
    v_grants uuid[] := '{}';
    v_amounts bigint[] := '{}';
    v_correlation uuid := gen_random_uuid();
    v_hold jsonb;
    v_text text;
    v_same boolean;
    v_response bytea;
begin
    -- 1. The person's lock, then (a new snapshot) the key, their holder status and sources.
    perform 1 from ledger_locks a where a.person_id = p_person_id for update;
    v_locked := found;  -- no ledger yet: no rights to hold

    -- 2. The key: a repeat (or a clash) answers from the store and writes nothing.
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

    -- 3. The debit order (the rule's, passed in): take from each usable pot in turn.
    for v_source in
        select s.pot, s.grant_id, s.balance
        from pots_for_debit(p_person_id, p_on, p_training_reference, false, p_debit_order,
                            p_debit_after_retirement) as s
        where v_locked and s.usable
        order by s.draw_key collate "C"
    loop
        exit when v_remaining = 0;
        v_take := least(v_remaining, v_source.balance);
        v_pots := v_pots || v_source.pot;
        v_grants := v_grants || v_source.grant_id;
        v_amounts := v_amounts || v_take;
        v_remaining := v_remaining - v_take;
    end loop;
    if v_remaining > 0 then
        -- Nothing written, no key either: repeating the request runs it again.
        return query select
            case when exists (select 1 from cpf_holds h
                              where h.person_id = p_person_id and h.status = 'pending'
                                and h.expires_at <= p_now)
                 then 'lapsed' else 'insufficient' end,
            null::text, p_amount_cents - v_remaining;
        return;
    end if;

    -- 4. The hold, where its euros come from (with the rule that decided the order), and the
    -- paired entries with their balances.
    insert into cpf_holds (id, person_id, amount_cents, training_reference, expires_at, client_id,
                           token_jti, created_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_reference, p_expires_at, p_client_id,
            p_token_jti, p_now);
    insert into cpf_hold_allocations (hold_id, seq, pot, grant_id, amount_cents, rule_id,
                                      parameter_effective_from, legal_reference)
    select p_hold_id, a.seq, a.pot, a.grant_id, a.amount_cents, p_rule_id,
           p_parameter_effective_from, p_legal_reference
    from unnest(v_pots, v_grants, v_amounts) with ordinality as a(pot, grant_id, amount_cents, seq);
    insert into ledger_entries (person_id, pot, grant_id, kind, amount, unit, effective_on,
                                correlation_id, hold_id, rule_id, parameter_effective_from,
                                legal_reference, client_id, token_jti, idempotency_key)
    select p_person_id, a.pot, a.grant_id, 'hold', a.amount, pot_unit(a.pot), p_on,
           v_correlation, p_hold_id, p_rule_id, p_parameter_effective_from, p_legal_reference,
           p_client_id, p_token_jti, p_idempotency_key
    from unnest(v_pots || 'cpf_held'::text, v_grants || null::uuid,
                array(select -x from unnest(v_amounts) as x) || p_amount_cents)
         as a(pot, grant_id, amount);
    update ledger_balances b set balance = b.balance - a.amount
    from unnest(v_pots, v_grants, v_amounts) as a(pot, grant_id, amount)
    where b.person_id = p_person_id and b.pot = a.pot
      and b.grant_id is not distinct from a.grant_id;
    update ledger_balances b set balance = b.balance + p_amount_cents
    where b.person_id = p_person_id and b.pot = 'cpf_held' and b.grant_id is null;
    if not found then
        insert into ledger_balances (person_id, pot, grant_id, balance, unit)
        values (p_person_id, 'cpf_held', null, p_amount_cents, pot_unit('cpf_held'));
    end if;
    update ledger_locks l  -- the columns that mirror the statutory and held balances
    set statutory_cents = l.statutory_cents - coalesce(
            (select sum(a.amount) from unnest(v_pots, v_amounts) as a(pot, amount)
             where a.pot = 'cpf_statutory'), 0),
        held_cents = l.held_cents + p_amount_cents
    where l.person_id = p_person_id;

    -- 5. The access journal line, and the response a repeat of this request will get.
    if p_journal is not null then
        insert into access_journal
            (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
        values (p_person_id, p_journal[1], p_journal[2], p_journal[3], p_journal[4],
                p_journal[5], p_journal[6], p_journal[7]);
    end if;
    v_hold := jsonb_build_object(
        'id', p_hold_id, 'person_id', p_person_id, 'amount_cents', p_amount_cents,
        'training_reference', p_training_reference, 'expires_at', p_expires_at, 'status', 'pending',
        'posted_cents', null, 'created_at', p_now, 'closed_at', null, 'client_id', p_client_id,
        'allocations', (select jsonb_agg(jsonb_build_object(
                            'pot', a.pot, 'grant_id', a.grant_id, 'amount_cents', a.amount)
                            order by a.seq)
                        from unnest(v_pots, v_grants, v_amounts) with ordinality
                             as a(pot, grant_id, amount, seq)));
    v_text := v_hold::text;
    if p_request_sha256 is not null then  -- the key, with the response a repeat will get
        insert into idempotency_keys as k (client_id, key, request_sha256, response, created_at,
                                           expires_at)
        values (p_client_id, p_idempotency_key, p_request_sha256,
                convert_to(v_text, 'UTF8'), p_now, p_key_expires_at)
        on conflict on constraint idempotency_keys_pkey
        do update set request_sha256 = excluded.request_sha256, response = excluded.response,
                      created_at = excluded.created_at, expires_at = excluded.expires_at
        where k.expires_at <= excluded.created_at;
        if not found then  -- taken meanwhile by a request on another person: undo everything
            raise exception 'idempotency_key_taken' using errcode = 'unique_violation',
                constraint = 'idempotency_keys_pkey';
        end if;
    end if;
    return query select 'created', v_text, null::bigint;
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
            held_cents = l.held_cents + p_amount_cents
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
