-- name: insert_person
-- Register a person; the NIR arrives encrypted and as its keyed hash.
insert into persons (nir_hmac, nir_ciphertext, birth_date, death_on, full_rate_retirement_on)
values ($1, $2, $3, $4, $5)
returning id, birth_date, death_on, full_rate_retirement_on, created_at;

-- name: get_person_by_nir_hmac
-- Find a person by the keyed hash of their NIR.
select id, nir_ciphertext, birth_date, death_on, full_rate_retirement_on, created_at
from persons
where nir_hmac = $1;

-- name: get_person
-- One person by internal id.
select id, nir_ciphertext, birth_date, death_on, full_rate_retirement_on, created_at
from persons
where id = $1;

-- name: count_persons
-- How many persons are registered (the demo data set loads only into an empty registry).
select count(*) from persons;
