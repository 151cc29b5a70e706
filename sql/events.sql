-- Events (the outbox): written in the transaction that made them, read in cursor order.

-- name: lock_event_subject
-- The subject's lock for this transaction, taken before its first write (no transaction id
-- is assigned by it): the subject's next transaction gets a larger one (sql/migrations/0002).
select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0));

-- name: insert_event
-- The subject's next event; its position in the subject's history follows the last one.
insert into events (type, subject_id, subject_seq, person_id, client_id, data, occurred_at)
select $1, $2, coalesce(max(subject_seq), 0) + 1, $3, $4, $5, $6
from events where subject_id = $2
returning id, tx_id::text as tx_id, subject_seq;

-- name: list_events_after
-- Events after the cursor (tx_id, id) that are final (below the oldest running transaction),
-- in cursor order, for one client: its own (client_id) or, when it holds an active consent
-- of the person, theirs.
select e.id, e.tx_id::text as tx_id, e.type, e.subject_id, e.subject_seq, e.person_id,
       e.client_id, e.data, e.occurred_at
from events e
where (e.tx_id, e.id) > ($1::text::xid8, $2::bigint)
  and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
  and (e.client_id = $3
       or exists (select 1 from consents c
                  where c.client_id = $3 and c.person_id = e.person_id
                    and c.revoked_at is null and c.expires_at > $5))
order by e.tx_id, e.id
limit $4;
