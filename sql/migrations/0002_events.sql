-- Events: every state change and money movement of a training purchase (and of whatever comes
-- next), written by the transaction that made it (a transactional outbox). Webhooks deliver
-- them and GET /v1/events replays them, both in cursor order: nothing committed is ever missed.
--
-- The cursor is (tx_id, id), read only below the oldest transaction still running
-- (pg_snapshot_xmin): an identity alone is allocated before commit, so a reader could pass an
-- id whose transaction commits later and miss it for good. Every transaction below that
-- horizon has ended, so the events below it are final, and a later horizon only adds events
-- after them. Within one subject, events follow its history as long as each transaction takes
-- the subject's lock (cpa.events.lock_subject, no transaction id) before its first write:
-- the next transaction on that subject then gets a larger transaction id.
create table events (
    id bigint generated always as identity primary key,
    tx_id xid8 not null default pg_current_xact_id(),
    type text not null,
    subject_id uuid not null,
    subject_seq integer not null,
    person_id uuid not null references persons (id),
    client_id text references oauth_clients (id),
    data jsonb not null,
    occurred_at timestamptz not null,
    constraint events_type_named check (type ~ '^[a-z_]+\.[a-z_]+$'),
    constraint events_subject_seq_positive check (subject_seq > 0),
    constraint events_subject_seq_unique unique (subject_id, subject_seq)
);
create index events_cursor_idx on events (tx_id, id);
create index events_client_idx on events (client_id, tx_id, id);
create index events_person_idx on events (person_id, tx_id, id);
