-- name: list_catalog_columns
-- Every column of the public schema, to compare two databases' schemas.
select table_name, column_name, data_type, is_nullable, column_default
from information_schema.columns
where table_schema = 'public' and table_name <> 'schema_migrations'
order by table_name, column_name;

-- name: list_catalog_constraints
-- Every named constraint of the public schema with its definition.
select conrelid::regclass::text as table_name, conname, pg_get_constraintdef(oid) as definition
from pg_constraint
where connamespace = 'public'::regnamespace
  and conrelid::regclass::text <> 'schema_migrations'
order by 1, 2;

-- name: list_catalog_indexes
-- Every index of the public schema with its definition.
select tablename, indexname, indexdef
from pg_indexes
where schemaname = 'public' and tablename <> 'schema_migrations'
order by 1, 2;

-- name: list_catalog_routines
-- Every function, procedure and trigger of the public schema with its definition.
select p.proname as name, pg_get_functiondef(p.oid) as definition
from pg_proc p
where p.pronamespace = 'public'::regnamespace
union all
select t.tgname, pg_get_triggerdef(t.oid)
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
where c.relnamespace = 'public'::regnamespace and not t.tgisinternal
order by 1, 2;

-- name: list_catalog_types
-- Every user type (enums, domains) of the public schema.
select t.typname, t.typtype,
       coalesce(string_agg(e.enumlabel, ',' order by e.enumsortorder), '') as labels
from pg_type t
left join pg_enum e on e.enumtypid = t.oid
where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'd')
group by 1, 2
order by 1;
