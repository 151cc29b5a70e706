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

