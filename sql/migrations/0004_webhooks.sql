-- Webhooks: a client's subscriptions to its events, and one delivery per (subscription,
-- event). The fan-out job turns final outbox events (after its own cursor, with the reading
-- rule of 0002) into delivery rows; the delivery job claims due rows with `for update skip
-- locked`, leases them, POSTs them signed (Standard Webhooks), and retries with backoff.
-- Within one subscription, a subject's event is delivered only once its earlier ones were.
create table webhook_subscriptions (
    id uuid primary key default gen_random_uuid(),
    client_id text not null references oauth_clients (id),
    url text not null,
    event_types text[] not null,
    secret_ciphertext bytea not null,
    status text not null default 'enabled',
    failures_consecutive integer not null default 0,
    last_error text,
    last_error_at timestamptz,
    last_delivered_at timestamptz,
    disabled_at timestamptz,
    created_at timestamptz not null,
    constraint webhook_subscriptions_status_known check (status in ('enabled', 'disabled')),
    constraint webhook_subscriptions_url_http check (url ~ '^https?://'),
    constraint webhook_subscriptions_event_types_given check (cardinality(event_types) > 0),
    constraint webhook_subscriptions_failures_nonnegative check (failures_consecutive >= 0)
);
create index webhook_subscriptions_client_idx on webhook_subscriptions (client_id, created_at);

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    subscription_id uuid not null references webhook_subscriptions (id) on delete cascade,
    event_id bigint not null references events (id),
    subject_id uuid not null,
    subject_seq integer not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    delivered_at timestamptz,
    constraint webhook_deliveries_once unique (subscription_id, event_id),
    constraint webhook_deliveries_attempts_nonnegative check (attempts >= 0)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where delivered_at is null;
create index webhook_deliveries_subject_idx
    on webhook_deliveries (subscription_id, subject_id, subject_seq) where delivered_at is null;
create index webhook_deliveries_delivered_idx on webhook_deliveries (delivered_at)
    where delivered_at is not null;

-- The fan-out job's cursor (one row): the last outbox event turned into deliveries.
create table webhook_fanout (
    id boolean primary key default true,
    tx_id xid8 not null,
    event_id bigint not null,
    constraint webhook_fanout_one_row check (id)
);
insert into webhook_fanout (tx_id, event_id) values ('0', 0);
