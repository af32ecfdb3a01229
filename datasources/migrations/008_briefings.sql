-- Briefing packs frozen to their moment (briefings/): the snapshot (numbers, tables, SVG images)
-- as JSON, the HTML rendered from it and the PDF. Re-rendering a stored snapshot gives the same
-- bytes (the PDF's dates come from the snapshot). Rows are never updated.
create sequence if not exists briefings_seq;
create table if not exists briefings (
    id         bigint primary key default nextval('briefings_seq'),
    template   varchar not null,   -- daily | weekly | incident
    scope      varchar not null,   -- 'city' or 'LEVEL:ID'
    "start"    timestamp not null, -- window [start, end), naive UTC
    "end"      timestamp not null,
    lang       varchar not null,
    created_at timestamp not null,
    snapshot   json not null,
    html       varchar not null,
    pdf        blob
);
