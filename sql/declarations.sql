-- Declarations in: yearly activity, C2P exposures per contract, CEC engagements.
-- A new revision for the same key is a correction; the latest revision is the one credited.

-- name: insert_activity_declaration
-- Record a person's yearly activity as the next revision for that year.
insert into activity_declarations (person_id, year, revision, body, client_id)
select $1, $2, coalesce(max(revision), 0) + 1, $3::text::jsonb, $4
from activity_declarations
where person_id = $1 and year = $2
returning id, revision;

-- name: insert_exposure_declaration
-- Record one contract's C2P exposures for a year as the next revision for that contract.
insert into c2p_exposure_declarations (person_id, year, contract_ref, revision, body, client_id)
select $1, $2, $3, coalesce(max(revision), 0) + 1, $4::text::jsonb, $5
from c2p_exposure_declarations
where person_id = $1 and year = $2 and contract_ref = $3
returning id, revision;

-- name: insert_cec_engagement
-- Record a declared CEC engagement (credited only once the organisation validates it).
insert into cec_engagements (person_id, year, organisation, body, client_id)
values ($1, $2, $3, $4::text::jsonb, $5)
returning id;

-- name: decide_cec_engagement
-- Validate or refuse a declared engagement; no row back when it is not pending.
update cec_engagements set status = $2, decided_at = $3
where id = $1 and status = 'declared'
returning id, person_id, year;

-- name: get_cec_engagement_status
-- The status of one engagement (to tell "unknown" from "already decided").
select status from cec_engagements where id = $1;

-- name: get_activity_declaration
-- The latest revision of a person's activity declaration for a year.
select id, revision, body::text as body
from activity_declarations
where person_id = $1 and year = $2
order by revision desc
limit 1;

-- name: list_current_exposures
-- The latest revision of each contract's C2P exposures of a person for a year.
select distinct on (contract_ref) id, contract_ref, revision, body::text as body, created_at
from c2p_exposure_declarations
where person_id = $1 and year = $2
order by contract_ref, revision desc;

-- name: list_validated_engagements
-- A person's validated CEC engagements for a year.
select id, body::text as body, created_at
from cec_engagements
where person_id = $1 and year = $2 and status = 'validated'
order by created_at, id;
