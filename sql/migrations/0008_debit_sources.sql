-- The debit order written once, in SQL (it was also in cpa/ledger/allocation.py, for the
-- account's available balance, with a test keeping the two equal).

-- A person's pots on a date, each with whether a CPF debit may draw on it and in which order
-- (décret 2025-1156, CT R6333-3): 1) dotations and abondements earmarked to the account
-- (soonest deadline first), 2) the holder's statutory rights, 3) CEC rights, 4) complementary
-- abondements that are not earmarked. The one definition of the rule: holds draw on the
-- usable pots in draw_key order (cpf_hold_create), the account read sums them (what is
-- available) in the same scan that lists the balances.
--
-- Choices where the texts leave it open: an earmarked grant tied to a training funds only that
-- training (p_any_training: what any training could use, the account's "available"); a grant
-- past its use_by date funds nothing; after full-rate retirement only CEC rights stay usable
-- (CT L6323-2, last paragraph), after death nothing; a negative statutory or CEC balance (a
-- debt, OQ-5) funds nothing and does not block the other pots.
create function pots_for_debit(
    p_person_id uuid, p_on date, p_training_ref text, p_any_training boolean
) returns table (pot text, grant_id uuid, balance bigint, usable boolean, draw_key text)
language sql stable as $$
    -- draw_key sorts (in the "C" collation) as the debit draws: tier, deadline, grant id. A
    -- key rather than a rank, so that a reader that only sums pays for no sort.
    select b.pot, b.grant_id, b.balance,
           coalesce(
               b.pot in ('cpf_statutory', 'cec', 'abondement', 'dotation')
               and b.balance > 0
               and (p.death_on is null or p.death_on > p_on)
               and (p.full_rate_retirement_on is null or p.full_rate_retirement_on > p_on
                    or b.pot = 'cec')
               and (g.use_by is null or g.use_by >= p_on)
               and (p_any_training or g.training_ref is null
                    or g.training_ref = p_training_ref),
               false),
           concat_ws('|',
               case when b.pot = 'dotation' or (b.pot = 'abondement' and g.earmarked) then 0
                    when b.pot = 'cpf_statutory' then 1
                    when b.pot = 'cec' then 2
                    else 3 end,
               to_char(coalesce(g.use_by, '9999-12-31'::date), 'YYYY-MM-DD'),
               b.grant_id::text) collate "C"
    from persons p
    join ledger_balances b on b.person_id = p.id
    left join ledger_grants g on g.id = b.grant_id
    where p.id = p_person_id
$$;

create or replace function cpf_hold_create(
    p_person_id uuid,
    p_hold_id uuid,
    p_amount_cents bigint,
    p_training_ref text,
    p_expires_at timestamptz,
    p_now timestamptz,
    p_on date,
    p_client_id text,
    p_token_jti text,
    p_idempotency_key text,
    p_request_sha256 bytea,
    p_key_expires_at timestamptz,
    p_journal text[]
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
    perform 1 from ledger_accounts a where a.person_id = p_person_id for update;
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

    -- 3. The debit order (pots_for_debit): take from each usable pot in turn.
    for v_source in
        select s.pot, s.grant_id, s.balance
        from pots_for_debit(p_person_id, p_on, p_training_ref, false) as s
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

    -- 4. The hold, where its euros come from, and the paired entries with their balances.
    insert into cpf_holds (id, person_id, amount_cents, training_ref, expires_at, client_id,
                           token_jti, created_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_ref, p_expires_at, p_client_id,
            p_token_jti, p_now);
    insert into cpf_hold_allocations (hold_id, seq, pot, grant_id, amount_cents)
    select p_hold_id, a.seq, a.pot, a.grant_id, a.amount_cents
    from unnest(v_pots, v_grants, v_amounts) with ordinality as a(pot, grant_id, amount_cents, seq);
    insert into ledger_entries (person_id, pot, grant_id, kind, amount, unit, effective_on,
                                correlation_id, hold_id, client_id, token_jti, idempotency_key)
    select p_person_id, a.pot, a.grant_id, 'hold', a.amount, 'cents', p_on, v_correlation,
           p_hold_id, p_client_id, p_token_jti, p_idempotency_key
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
        values (p_person_id, 'cpf_held', null, p_amount_cents, 'cents');
    end if;

    -- 5. The access journal line, and the response a repeat of this request will get.
    if p_journal is not null then
        insert into access_journal
            (person_id, client_id, client_kind, client_name, advisor_id, purpose, action, route)
        values (p_person_id, p_journal[1], p_journal[2], p_journal[3], p_journal[4],
                p_journal[5], p_journal[6], p_journal[7]);
    end if;
    v_hold := jsonb_build_object(
        'id', p_hold_id, 'person_id', p_person_id, 'amount_cents', p_amount_cents,
        'training_ref', p_training_ref, 'expires_at', p_expires_at, 'status', 'pending',
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
