-- The ledger's rows reference the person's ledger account, not the person (issue 5: 1,000
-- holds/s on random accounts).
--
-- Every write to a person's ledger first locks their ledger_accounts row (FOR UPDATE). A
-- foreign key to persons made each inserted entry, hold and balance row lock the person's
-- row too (FOR KEY SHARE): a WAL record and a dirtied page of persons per hold. The same key
-- on ledger_accounts finds that row already locked, more strongly, by the same transaction,
-- and writes nothing. Integrity is unchanged: a ledger account exists only for a person.
insert into ledger_accounts (person_id)
select person_id from ledger_entries
union select person_id from ledger_balances
union select person_id from cpf_holds
on conflict (person_id) do nothing;

alter table ledger_entries
    drop constraint ledger_entries_person_id_fkey,
    add constraint ledger_entries_person_id_fkey
        foreign key (person_id) references ledger_accounts (person_id);
alter table ledger_balances
    drop constraint ledger_balances_person_id_fkey,
    add constraint ledger_balances_person_id_fkey
        foreign key (person_id) references ledger_accounts (person_id);
alter table cpf_holds
    drop constraint cpf_holds_person_id_fkey,
    add constraint cpf_holds_person_id_fkey
        foreign key (person_id) references ledger_accounts (person_id);

-- No query looks entries up by correlation key (paired entries are read by person or hold):
-- the index cost every entry an index insert, two per hold.
drop index ledger_entries_correlation_idx;
