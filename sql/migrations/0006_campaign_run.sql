-- The crediting campaign's run (issue 14): each pass over a year's persons is cut into chunks
-- of person ids; worker processes lease a chunk at a time (`for update skip locked`, a lease
-- that expires if the worker dies) and commit its credits and its figures together, so a
-- chunk is either done once or not at all. The loads record their counts, for the report.
create table campaign_passes (
    year integer not null,
    pass integer not null,
    credited_on date not null,
    chunk_persons integer not null,
    created_at timestamptz not null default now(),
    constraint campaign_passes_pkey primary key (year, pass),
    constraint campaign_passes_pass_positive check (pass > 0),
    constraint campaign_passes_chunk_persons_positive check (chunk_persons > 0)
);

-- One range of person ids [first_person_id, end_person_id) of a pass (null: unbounded).
create table campaign_chunks (
    year integer not null,
    pass integer not null,
    chunk_no integer not null,
    first_person_id uuid,
    end_person_id uuid,
    persons_planned integer not null,
    status text not null default 'waiting',
    leased_by text,
    lease_expires_at timestamptz,
    attempts integer not null default 0,
    stats jsonb,
    last_error text,
    started_at timestamptz,
    done_at timestamptz,
    constraint campaign_chunks_pkey primary key (year, pass, chunk_no),
    constraint campaign_chunks_pass_fkey foreign key (year, pass)
        references campaign_passes (year, pass),
    constraint campaign_chunks_status_known
        check (status in ('waiting', 'leased', 'done', 'failed')),
    constraint campaign_chunks_done_with_stats check ((status = 'done') = (stats is not null))
);

-- What each bulk load did (its rejected lines counted by problem type), for the report.
create table campaign_loads (
    id bigint generated always as identity primary key,
    year integer,
    kind text not null,
    files integer not null,
    lines bigint not null,
    stored bigint not null,
    rejected bigint not null,
    rejected_by_type jsonb not null,
    seconds double precision not null,
    loaded_at timestamptz not null default now(),
    constraint campaign_loads_kind_known check (kind in ('declarations', 'persons'))
);
