-- What the rules decide, received by SQL as data (issue 11): each rule is written once, in
-- cpa/rules/, and the constants below are its generated copy, proven equal to it by
-- tests/ledger/test_rules_in_sql.py.

-- The first year each account counts (cpa/rules/accounts.py: cpf.opened_on, cec.opened_on,
-- c2p.opened_on) and the last year anyone may declare (a bound, not law).
create function account_first_year(p_account text) returns integer
language sql immutable parallel safe as $$
    select case p_account when 'cpf' then 2015 when 'cec' then 2017 when 'c2p' then 2015 end
$$;

create function account_last_year() returns integer
language sql immutable parallel safe as $$
    select 2100
$$;

-- The unit of each ledger pot (cpa/rules/accounts.py: POT_UNITS); null for an unknown pot.
create function pot_unit(p_pot text) returns text
language sql immutable parallel safe as $$
    select case p_pot
        when 'cpf_statutory' then 'cents'
        when 'cpf_hours' then 'hours'
        when 'cec' then 'cents'
        when 'cec_hours' then 'hours'
        when 'abondement' then 'cents'
        when 'dotation' then 'cents'
        when 'cpf_held' then 'cents'
        when 'c2p' then 'points'
    end
$$;

alter table activity_declarations
    drop constraint activity_declarations_year_range,
    add constraint activity_declarations_year_range
        check (year between account_first_year('cpf') and account_last_year());
alter table c2p_exposure_declarations
    drop constraint c2p_exposure_declarations_year_range,
    add constraint c2p_exposure_declarations_year_range
        check (year between account_first_year('c2p') and account_last_year());
alter table cec_engagements
    drop constraint cec_engagements_year_range,
    add constraint cec_engagements_year_range
        check (year between account_first_year('cec') and account_last_year());

alter table ledger_entries
    drop constraint ledger_entries_pot_known,
    drop constraint ledger_entries_unit_matches_pot,
    add constraint ledger_entries_pot_known check (pot_unit(pot) is not null),
    add constraint ledger_entries_unit_matches_pot check (unit = pot_unit(pot));

-- C2P points used so far by one person, by use: the data the reserved-points rule reads
-- (cpa/rules/c2p.py: c2p_points_reserved_remaining decides which uses spend the reserve).
create function c2p_points_used(p_person_id uuid) returns json
language sql stable as $$
    select coalesce(json_object_agg(u.use, u.points order by u.use), '{}'::json)
    from (select c.use, sum(c.points) as points from c2p_conversions c
          where c.person_id = p_person_id group by c.use) as u
$$;

-- The document of one person, built from the tables (its only definition).
-- json, not jsonb: its text goes out as stored and is decoded once, by the application.
create or replace function account_summary_of(p_person_id uuid) returns json
language sql stable as $$
    select json_build_object(
        'birth_date', p.birth_date,
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

-- Every document in the new shape (points used by use, not "training_points_used").
update account_summaries set summary = account_summary_of(person_id);

-- The debit order (décret 2025-1156) is a rule in cpa/rules/debit.py (parameter
-- cpf.debit.order); SQL receives it as an argument and records, on every allocation of a hold,
-- the parameter it followed. Allocations made before this migration followed the same order
-- (the one migration 0008 wrote in SQL), in force from 2015-01-01 and, from 2025-12-05, under
-- décret 2025-1156: they get that trace.
alter table cpf_hold_allocations
    add column rule_id text,
    add column parameter_effective_from date,
    add column legal_reference text;
update cpf_hold_allocations a
set rule_id = 'cpf.debit.order',
    parameter_effective_from = case when h.created_at >= '2025-12-05' then date '2025-12-05'
                                    else date '2015-01-01' end,
    legal_reference = case when h.created_at >= '2025-12-05' then 'CT R6333-3'
                           else 'CT L6323-4' end
from cpf_holds h
where h.id = a.hold_id;
alter table cpf_hold_allocations
    alter column rule_id set not null,
    alter column parameter_effective_from set not null,
    alter column legal_reference set not null;

drop function pots_for_debit(uuid, date, text, boolean);
drop function cpf_hold_create(uuid, uuid, bigint, text, timestamptz, timestamptz, date, text,
                              text, text, bytea, timestamptz, text[]);

-- A person's pots on a date, each with whether a CPF debit may draw on it and its place in the
-- debit order, which the caller passes (p_order: cpa/rules/debit.py, parameter cpf.debit.order,
-- décret 2025-1156, CT R6333-3). A pot is named in the order by its source: `earmarked` for a
-- dotation or an abondement earmarked to the account, `abondement` for the other abondements,
-- else its own name; a pot whose source is not in the order funds nothing. Holds draw on the
-- usable pots in draw_key order (cpf_hold_create), the account read sums them (what is
-- available) in the same scan that lists the balances.
--
-- Choices where the texts leave it open: an earmarked grant tied to a training funds only that
-- training (p_any_training: what any training could use, the account's "available"); a grant
-- past its use_by date funds nothing; after full-rate retirement only CEC rights stay usable
-- (CT L6323-2, last paragraph), after death nothing; a negative statutory or CEC balance (a
-- debt, OQ-5) funds nothing and does not block the other pots.
create function pots_for_debit(
    p_person_id uuid, p_on date, p_training_ref text, p_any_training boolean, p_order text[]
) returns table (pot text, grant_id uuid, balance bigint, usable boolean, draw_key text)
language sql stable as $$
    -- draw_key sorts (in the "C" collation) as the debit draws: place in the order, deadline,
    -- grant id. A key rather than a rank, so that a reader that only sums pays for no sort.
    select b.pot, b.grant_id, b.balance,
           coalesce(
               s.place is not null
               and b.balance > 0
               and (p.death_on is null or p.death_on > p_on)
               and (p.full_rate_retirement_on is null or p.full_rate_retirement_on > p_on
                    or b.pot = 'cec')
               and (g.use_by is null or g.use_by >= p_on)
               and (p_any_training or g.training_ref is null
                    or g.training_ref = p_training_ref),
               false),
           concat_ws('|',
               to_char(s.place, 'FM000'),
               to_char(coalesce(g.use_by, '9999-12-31'::date), 'YYYY-MM-DD'),
               b.grant_id::text) collate "C"
    from persons p
    join ledger_balances b on b.person_id = p.id
    left join ledger_grants g on g.id = b.grant_id
    cross join lateral (
        select array_position(p_order,
            case when b.pot = 'dotation' or (b.pot = 'abondement' and g.earmarked)
                 then 'earmarked' else b.pot end) as place
    ) as s
    where p.id = p_person_id
$$;

-- Holds in one statement (issue 5 targets): the idempotency claim, the person's ledger lock,
-- the debit order, the hold, its entries and balances, the access journal line and the stored
-- response, in one call, so the person's lock is held for one statement and its commit only,
-- never across round trips to the application. The debit order and its trace (rule id,
-- effective date, legal reference, recorded on every allocation and hold entry) are the
-- rule's (cpa/rules/debit.py), passed in by the caller.
create function cpf_hold_create(
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
    p_journal text[],
    p_debit_order text[],
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

    -- 3. The debit order (the rule's, passed in): take from each usable pot in turn.
    for v_source in
        select s.pot, s.grant_id, s.balance
        from pots_for_debit(p_person_id, p_on, p_training_ref, false, p_debit_order) as s
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
    insert into cpf_holds (id, person_id, amount_cents, training_ref, expires_at, client_id,
                           token_jti, created_at)
    values (p_hold_id, p_person_id, p_amount_cents, p_training_ref, p_expires_at, p_client_id,
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
