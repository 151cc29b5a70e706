-- Linked services: the catalogue and each person's links.

-- name: upsert_linked_service
-- Add a service to the catalogue, or update it.
insert into linked_services as s (id, name, category, provider_client_id, url)
values ($1, $2, $3, $4, $5)
on conflict (id) do update
set name = excluded.name, category = excluded.category,
    provider_client_id = excluded.provider_client_id, url = excluded.url;

-- name: list_linked_services
-- The catalogue, by category then name.
select id, name, category, provider_client_id, url from linked_services order by category, name;

-- name: insert_service_link
-- Link a service to a person's account.
insert into service_links (person_id, service_id, client_id, created_at)
values ($1, $2, $3, $4)
returning created_at;

-- name: delete_service_link
-- The person removes a link; returns the service id when there was one.
delete from service_links where person_id = $1 and service_id = $2 returning service_id;

-- name: list_service_links
-- A person's linked services with their catalogue data.
select s.id, s.name, s.category, s.url, l.created_at as linked_at
from service_links l join linked_services s on s.id = l.service_id
where l.person_id = $1
order by l.created_at, s.id;
