-- 0003 belongs to branch trainings-domain (13b); a local placeholder, never committed.
select 1;
