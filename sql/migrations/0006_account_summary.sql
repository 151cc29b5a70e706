-- The slow-changing part of the aggregated account as one row per person (issue 5: the
-- account read within 90 % of a one-query endpoint).
--
-- The read used to gather five lookups (balances and grants, lapsed holds, C2P uses, last
-- crediting, linked services) in one statement: ~4x the database time of `select 1`, and
-- PostgreSQL re-planned it on every call (a custom plan always looked cheaper than the generic
-- one). What changes seldom (the person's birth date, C2P points used for training, the
-- last crediting, linked services) is now kept as one document per person,
-- rebuilt from the tables by statement triggers on each of them, so no write path can forget
-- it; the read takes that row, the person's balance rows and one index probe for lapsed holds.
-- Balances stay out of the document: holds change them, and rebuilding a document on every
-- hold would slow the hottest write for the benefit of the read. `python -m cpa ledger verify`
-- checks every document against a fresh build.
create table account_summaries (
    person_id uuid primary key references persons (id),
    summary json not null
);

-- Lapsed holds of one person: one probe of this index per account read.
create index cpf_holds_person_pending_idx on cpf_holds (person_id, expires_at)
    where status = 'pending';

-- The document of one person, built from the tables (its only definition).
-- json, not jsonb: its text goes out as stored and is decoded once, by the application.
create function account_summary_of(p_person_id uuid) returns json
language sql stable as $$
    select json_build_object(
        'birth_date', p.birth_date,
        'training_points_used',
            (select coalesce(sum(c.points), 0) from c2p_conversions c
             where c.person_id = p.id and c.use in ('training', 'reconversion')),
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

-- The row's lock first, then the document, built by a later statement with a snapshot taken
-- once the lock is held: a transaction that changed the same account meanwhile has committed
-- by then, and its change is in. (Built before the lock, the document of the transaction that
-- waited would overwrite the other's change with a view that predates it.)
create function account_summary_refresh(p_person_id uuid) returns void
language plpgsql as $$
begin
    insert into account_summaries (person_id, summary) values (p_person_id, '{}'::json)
    on conflict (person_id) do nothing;
    perform 1 from account_summaries where person_id = p_person_id for update;
    update account_summaries set summary = account_summary_of(p_person_id)
    where person_id = p_person_id;
end;
$$;

-- Once per statement and person: a statement that touches many rows of one person (or many
-- persons, like a crediting batch) rebuilds each document once.
create function account_summary_on_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(c.person_id)
    from (select distinct person_id from changed) as c;
    return null;
end;
$$;

create function account_summary_on_person_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(c.id) from (select distinct id from changed) as c;
    return null;
end;
$$;

create trigger c2p_conversions_insert_summary after insert on c2p_conversions
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger c2p_conversions_update_summary after update on c2p_conversions
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger c2p_conversions_delete_summary after delete on c2p_conversions
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_insert_summary after insert on ledger_credits
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_update_summary after update on ledger_credits
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger ledger_credits_delete_summary after delete on ledger_credits
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_insert_summary after insert on service_links
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_update_summary after update on service_links
    referencing new table as changed
    for each statement execute function account_summary_on_change();
create trigger service_links_delete_summary after delete on service_links
    referencing old table as changed
    for each statement execute function account_summary_on_change();
create trigger persons_insert_summary after insert on persons
    referencing new table as changed
    for each statement execute function account_summary_on_person_change();
create trigger persons_update_summary after update on persons
    referencing new table as changed
    for each statement execute function account_summary_on_person_change();

-- A renamed catalogue entry changes the account of everyone linked to it (rare).
create function account_summary_on_service_change() returns trigger
language plpgsql as $$
begin
    perform account_summary_refresh(l.person_id)
    from service_links l where l.service_id = new.id;
    return null;
end;
$$;
create trigger linked_services_summary
    after update on linked_services
    for each row when (old is distinct from new)
    execute function account_summary_on_service_change();

-- Persons are never deleted (their ledger and their access journal outlive any account
-- closure), which lets the access journal drop its foreign key: checking it locked the
-- person's row (FOR KEY SHARE) for every journal line, a write per read (and, with concurrent
-- readers of one person, a multixact).
create function persons_refuse_delete() returns trigger
language plpgsql as $$
begin
    raise exception 'persons are never deleted' using errcode = 'restrict_violation';
end;
$$;
create trigger persons_never_deleted
    before delete on persons
    for each statement execute function persons_refuse_delete();
create trigger persons_never_truncated
    before truncate on persons
    for each statement execute function persons_refuse_delete();
alter table access_journal drop constraint access_journal_person_id_fkey;

select account_summary_refresh(id) from persons;
