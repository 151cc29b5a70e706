-- Training purchases: the catalogue of training actions and sessions, and dossiers.

-- name: insert_training_action
-- A new action in a training body's catalogue.
insert into training_actions (id, client_id, title, certification_code, description,
                              duration_hours, modality, location, prerequisites,
                              created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
returning id, client_id, title, certification_code, description, duration_hours, modality,
          location, prerequisites, closed_at;

-- name: update_training_action
-- Change the given fields (null: unchanged) of one of the body's own open actions.
update training_actions
set title = coalesce($3, title), description = coalesce($4, description),
    duration_hours = coalesce($5, duration_hours), modality = coalesce($6, modality),
    location = coalesce($7, location), prerequisites = coalesce($8, prerequisites),
    updated_at = $9
where id = $1 and client_id = $2
returning id, client_id, title, certification_code, description, duration_hours, modality,
          location, prerequisites, closed_at;

-- name: close_training_action
-- Close one of the body's own actions to new requests (its sessions with it).
update training_actions
set closed_at = coalesce(closed_at, $3), updated_at = $3
where id = $1 and client_id = $2
returning id, client_id, title, certification_code, description, duration_hours, modality,
          location, prerequisites, closed_at;

-- name: get_training_action
-- One action of the catalogue.
select id, client_id, title, certification_code, description, duration_hours, modality,
       location, prerequisites, closed_at
from training_actions
where id = $1;

-- name: list_training_sessions
-- The sessions of these actions, by start date.
select id, action_id, starts_on, ends_on, price_cents, seats, open
from training_sessions
where action_id = any($1::uuid[])
order by action_id, starts_on, id;

-- name: insert_training_session
-- A session of one of the body's own actions (no row when the action is not the body's).
insert into training_sessions (id, action_id, starts_on, ends_on, price_cents, seats,
                               created_at, updated_at)
select $1, a.id, $4, $5, $6, $7, $8, $8
from training_actions a
where a.id = $2 and a.client_id = $3
returning id, action_id, starts_on, ends_on, price_cents, seats, open;

-- name: update_training_session
-- Change price, seats or open (null: unchanged) of a session of the body's own action.
update training_sessions s
set price_cents = coalesce($3, s.price_cents), seats = coalesce($4, s.seats),
    open = coalesce($5, s.open), updated_at = $6
from training_actions a
where s.id = $1 and a.id = s.action_id and a.client_id = $2
returning s.id, s.action_id, s.starts_on, s.ends_on, s.price_cents, s.seats, s.open;

-- name: search_training_actions
-- One page of open actions, by id after the cursor $1, matching text $2 (title or
-- description), certification $3, place $4, and having an open session starting within
-- [$5, $6] at most at price $7; $8 rows.
select a.id, a.client_id, a.title, a.certification_code, a.description, a.duration_hours,
       a.modality, a.location, a.prerequisites, a.closed_at
from training_actions a
where a.closed_at is null
  and ($1::uuid is null or a.id > $1)
  and ($2::text is null or a.title ilike '%' || $2 || '%' or a.description ilike '%' || $2 || '%')
  and ($3::text is null or a.certification_code = $3)
  and ($4::text is null or a.location ilike '%' || $4 || '%')
  and exists (select 1 from training_sessions s
              where s.action_id = a.id and s.open
                and ($5::date is null or s.starts_on >= $5)
                and ($6::date is null or s.starts_on <= $6)
                and ($7::bigint is null or s.price_cents <= $7))
order by a.id
limit $8;

-- name: list_client_training_actions
-- The body's own actions, open or closed, by id after the cursor $2; $3 rows.
select id, client_id, title, certification_code, description, duration_hours, modality,
       location, prerequisites, closed_at
from training_actions
where client_id = $1 and ($2::uuid is null or id > $2)
order by id
limit $3;

-- name: get_session_for_request
-- A session with what a request on it needs of its action, and how many of the citizen $2's
-- dossiers on that action are still running (states $3).
select s.id, s.action_id, s.starts_on, s.ends_on, s.price_cents, s.open,
       a.client_id, a.closed_at,
       (select count(*) from dossiers d
        where d.person_id = $2 and d.action_id = s.action_id
          and d.state = any($3::text[])) as open_count
from training_sessions s
join training_actions a on a.id = s.action_id
where s.id = $1;

-- name: lock_person_dossiers
-- The citizen's dossier lock until the transaction ends: two requests never both pass the
-- open-requests limit.
select pg_advisory_xact_lock(hashtextextended('dossiers:' || $1::uuid::text, 0));

-- name: insert_dossier
-- A new request on a session, with the first line of its history (by the citizen's client
-- $13); the dossier.
with created as (
    insert into dossiers (id, person_id, session_id, action_id, client_id, state, price_cents,
                          starts_on, ends_on, financer_review, job_seeker, deadline_on,
                          created_at, updated_at)
    values ($1, $2, $3, $4, $5, 'notProcessed', $6, $7, $8, $9, $10, $11, $12, $12)
    returning *
), entered as (
    insert into dossier_states (dossier_id, seq, state, action, actor, client_id, occurred_at)
    values ($1, 1, 'notProcessed', 'request', 'citizen', $13, $12)
)
select id, person_id, session_id, action_id, client_id, state, price_cents, starts_on, ends_on,
       financer_review, job_seeker, hold_id, held_cents, copayment_cents,
       completion_basis_points, exit_case, control_opened_at, accepted_on, deadline_on,
       created_at, updated_at
from created;

-- name: get_dossier
-- One dossier.
select id, person_id, session_id, action_id, client_id, state, price_cents, starts_on, ends_on,
       financer_review, job_seeker, hold_id, held_cents, copayment_cents,
       completion_basis_points, exit_case, control_opened_at, accepted_on, deadline_on,
       created_at, updated_at
from dossiers
where id = $1;

-- name: update_dossier
-- The dossier after a step (every field a step may change).
update dossiers
set state = $2, starts_on = $3, ends_on = $4, hold_id = $5, held_cents = $6,
    copayment_cents = $7, completion_basis_points = $8, exit_case = $9,
    control_opened_at = $10, accepted_on = $11, deadline_on = $12, updated_at = $13
where id = $1;

-- name: update_dossier_entering
-- The dossier after a step that entered a state ($2), with that state's line in its history
-- (action $14, actor $15, client $16).
with changed as (
    update dossiers
    set state = $2, starts_on = $3, ends_on = $4, hold_id = $5, held_cents = $6,
        copayment_cents = $7, completion_basis_points = $8, exit_case = $9,
        control_opened_at = $10, accepted_on = $11, deadline_on = $12, updated_at = $13
    where id = $1
    returning id
)
insert into dossier_states (dossier_id, seq, state, action, actor, client_id, occurred_at)
select $1, coalesce(max(seq), 0) + 1, $2, $14, $15, $16, $13
from dossier_states where dossier_id = $1;

-- name: insert_dossier_state
-- The state a dossier entered, appended to its history.
insert into dossier_states (dossier_id, seq, state, action, actor, client_id, occurred_at)
select $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6
from dossier_states where dossier_id = $1;

-- name: get_dossier_story
-- A dossier's history and amounts, oldest first, as two JSON arrays (one round trip).
select coalesce((select json_agg(json_build_object(
                     'state', state, 'action', action, 'actor', actor,
                     'occurred_at', occurred_at) order by seq)
                 from dossier_states where dossier_id = $1), '[]')::text as history,
       coalesce((select json_agg(json_build_object(
                     'leg', leg, 'amount_cents', amount_cents, 'rule_id', rule_id,
                     'policy_version', policy_version, 'legal_reference', legal_reference,
                     'hold_id', hold_id, 'occurred_at', occurred_at) order by seq)
                 from dossier_amounts where dossier_id = $1), '[]')::text as amounts;

-- name: insert_dossier_amount
-- An amount a dossier's step moved or decided, with what produced it.
insert into dossier_amounts (dossier_id, seq, leg, amount_cents, rule_id, policy_version,
                             legal_reference, hold_id, occurred_at)
select $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8
from dossier_amounts where dossier_id = $1;

-- name: list_person_dossiers
-- The citizen's dossiers, newest first; $2 rows.
select id from dossiers
where person_id = $1
order by created_at desc, id
limit $2;

-- name: list_client_dossiers
-- The training body's dossiers, newest first, optionally in state $2; $3 rows.
select id from dossiers
where client_id = $1 and ($2::text is null or state = $2)
order by created_at desc, id
limit $3;

-- name: list_due_dossiers
-- Dossiers whose deadline day is $1 or before (cpa.rules.trainings says whether it is reached
-- or passed, and the server moves them); $2 rows.
select id from dossiers
where deadline_on <= $1 and control_opened_at is null
order by deadline_on, id
limit $2;
