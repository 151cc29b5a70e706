-- Webhooks: subscriptions of a client, the fan-out of outbox events into deliveries, and the
-- deliveries' claims and outcomes (sql/migrations/0004_webhooks.sql).

-- name: insert_webhook_subscription
-- A client's new subscription, unless it already has $7 of them (then no row).
insert into webhook_subscriptions (id, client_id, url, event_types, secret_ciphertext, created_at)
select $1, $2, $3, $4, $5, $6
where (select count(*) from webhook_subscriptions where client_id = $2) < $7
returning id, url, event_types, status, failures_consecutive, last_error, last_error_at,
          last_delivered_at, disabled_at, created_at, 0::bigint as deliveries_pending;

-- name: list_webhook_subscriptions
-- A client's subscriptions, oldest first, with how many deliveries each still owes.
select s.id, s.url, s.event_types, s.status, s.failures_consecutive, s.last_error,
       s.last_error_at, s.last_delivered_at, s.disabled_at, s.created_at,
       (select count(*) from webhook_deliveries d
        where d.subscription_id = s.id and d.delivered_at is null) as deliveries_pending
from webhook_subscriptions s
where s.client_id = $1
order by s.created_at, s.id;

-- name: get_webhook_subscription
-- One subscription of a client, with how many deliveries it still owes.
select s.id, s.url, s.event_types, s.status, s.failures_consecutive, s.last_error,
       s.last_error_at, s.last_delivered_at, s.disabled_at, s.created_at,
       (select count(*) from webhook_deliveries d
        where d.subscription_id = s.id and d.delivered_at is null) as deliveries_pending
from webhook_subscriptions s
where s.client_id = $1 and s.id = $2;

-- name: delete_webhook_subscription
-- One subscription of a client, gone with its deliveries (on delete cascade).
delete from webhook_subscriptions where client_id = $1 and id = $2 returning id;

-- name: fan_out_webhook_events
-- The next $1 final events after the fan-out cursor become deliveries for the enabled
-- subscriptions that match them (the client's own events, or a consenting person's at $2);
-- the cursor moves past them. A second worker skips the locked cursor row: no double work.
with cursor as (
    select tx_id, event_id from webhook_fanout for update skip locked
), batch as (
    select e.id, e.tx_id, e.type, e.subject_id, e.subject_seq, e.person_id, e.client_id
    from events e, cursor c
    where (e.tx_id, e.id) > (c.tx_id, c.event_id)
      and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
    order by e.tx_id, e.id
    limit $1
), inserted as (
    insert into webhook_deliveries (subscription_id, event_id, subject_id, subject_seq,
                                    next_attempt_at)
    select s.id, b.id, b.subject_id, b.subject_seq, $2
    from batch b
    join webhook_subscriptions s on s.status = 'enabled' and b.type = any (s.event_types)
    where b.client_id = s.client_id
       or exists (select 1 from consents c
                  where c.client_id = s.client_id and c.person_id = b.person_id
                    and c.revoked_at is null and c.expires_at > $2)
    order by b.tx_id, b.id
    on conflict on constraint webhook_deliveries_once do nothing
    returning 1
), moved as (
    update webhook_fanout f set tx_id = last.tx_id, event_id = last.id
    from (select tx_id, id from batch order by tx_id desc, id desc limit 1) last
    returning 1
)
select (select count(*) from batch) as events, (select count(*) from inserted) as deliveries;

-- name: purge_webhook_deliveries
-- At most $2 deliveries accepted before $1: nothing reads them any more (the fan-out never
-- goes back), they are kept a while for whoever looks into an integrator's report.
delete from webhook_deliveries
where id in (select id from webhook_deliveries where delivered_at < $1 limit $2);

-- name: claim_webhook_deliveries
-- Up to $2 deliveries due at $1 whose earlier events of the same subject reached the same
-- subscription, leased until $3 (another worker skips the locked rows, then the lease).
with due as (
    select d.id
    from webhook_deliveries d
    join webhook_subscriptions s on s.id = d.subscription_id
    where d.delivered_at is null and d.next_attempt_at <= $1 and s.status = 'enabled'
      and not exists (select 1 from webhook_deliveries p
                      where p.subscription_id = d.subscription_id
                        and p.subject_id = d.subject_id
                        and p.delivered_at is null and p.subject_seq < d.subject_seq)
    order by d.next_attempt_at, d.id
    limit $2
    for update of d skip locked
)
update webhook_deliveries d set attempts = d.attempts + 1, next_attempt_at = $3
from due, webhook_subscriptions s, oauth_clients o, events e
where d.id = due.id and s.id = d.subscription_id and o.id = s.client_id and e.id = d.event_id
returning d.id as delivery_id, d.attempts, s.id as subscription_id, s.url,
          s.secret_ciphertext, o.pairwise_salt, e.id, e.tx_id::text as tx_id, e.type,
          e.subject_id, e.subject_seq, e.person_id, e.client_id, e.data, e.occurred_at;

-- name: mark_webhook_delivered
-- A delivery the endpoint accepted at $2: its subscription's failures start again from 0.
with delivered as (
    update webhook_deliveries set delivered_at = $2, last_error = null
    where id = $1 and delivered_at is null
    returning subscription_id
)
update webhook_subscriptions s set failures_consecutive = 0, last_delivered_at = $2
from delivered where s.id = delivered.subscription_id
returning s.id;

-- name: mark_webhook_failed
-- A failed attempt at $2 (error $4), retried at $3. The subscription is disabled when this
-- delivery failed $5 times in a row with no delivery accepted meanwhile (its consecutive
-- failures reach $5 too): a flood of parallel failures alone does not disable it.
with failed as (
    update webhook_deliveries set next_attempt_at = $3, last_error = $4
    where id = $1 and delivered_at is null
    returning subscription_id, attempts
)
update webhook_subscriptions s
set failures_consecutive = s.failures_consecutive + 1,
    last_error = $4,
    last_error_at = $2,
    status = case when failed.attempts >= $5 and s.failures_consecutive + 1 >= $5
                  then 'disabled' else s.status end,
    disabled_at = case when failed.attempts >= $5 and s.failures_consecutive + 1 >= $5
                       then coalesce(s.disabled_at, $2) else s.disabled_at end
from failed where s.id = failed.subscription_id
returning s.status, s.disabled_at = $2 as disabled_now;
