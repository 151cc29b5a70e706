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
