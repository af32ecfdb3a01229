-- Core tables. All *_at columns are naive TIMESTAMPs in UTC; the console shows them in the city's zone.
-- unit_ids holds the record's unit at each level of the city pack, coarse to fine (1-based in SQL).

create table if not exists commits (
    version      bigint primary key,
    committed_at timestamp not null,
    feed         varchar not null,
    accepted     integer not null,
    updated      integer not null,
    quarantined  integer not null
);

create table if not exists units (
    level       varchar not null,
    level_index integer not null,
    unit_id     varchar not null,
    name_zh     varchar,
    name_en     varchar,
    parent_id   varchar,
    path        varchar[],
    primary key (level, unit_id)
);

create table if not exists departments (
    department_id varchar primary key,
    name_zh       varchar,
    name_en       varchar
);

create table if not exists categories (
    category_id        varchar primary key,
    name_zh            varchar,
    name_en            varchar,
    kind               varchar,
    lead_department    varchar,
    assist_departments varchar[],
    time_limit_hours   double,
    calendar           varchar
);

create table if not exists cases (
    case_id        varchar primary key,
    source         varchar,
    category       varchar,
    description    varchar,
    reported_at    timestamp not null,
    lat            double,
    lon            double,
    address        varchar,
    priority       tinyint,
    department     varchar,
    due_at         timestamp,
    status         varchar not null,
    closed_at      timestamp,
    satisfaction   tinyint,
    reporter_name  varchar,
    reporter_phone varchar,
    unit_ids       varchar[],
    outside_city   boolean,
    version        bigint not null
);

create table if not exists case_events (
    case_id    varchar not null,
    status     varchar not null,
    event_at   timestamp not null,
    version    bigint not null,
    primary key (case_id, status, event_at)
);

create table if not exists devices (
    device_id varchar primary key,
    kind      varchar,
    name      varchar,
    lat       double,
    lon       double,
    metrics   varchar[],
    unit_ids  varchar[],
    outside_city boolean,
    version   bigint not null
);

create table if not exists readings (
    device_id   varchar not null,
    metric      varchar not null,
    observed_at timestamp not null,
    value       double,
    unit        varchar,
    version     bigint not null,
    primary key (device_id, metric, observed_at)
);

create table if not exists halls (
    hall_id  varchar primary key,
    name_zh  varchar,
    name_en  varchar,
    lat      double,
    lon      double,
    unit_ids varchar[],
    outside_city boolean,
    version  bigint not null
);

create table if not exists service_transactions (
    transaction_id varchar primary key,
    hall_id        varchar not null,
    service_code   varchar,
    ticket_at      timestamp not null,
    called_at      timestamp,
    done_at        timestamp,
    channel        varchar,
    satisfaction   tinyint,
    version        bigint not null
);

create table if not exists hall_snapshots (
    hall_id      varchar not null,
    observed_at  timestamp not null,
    waiting      integer,
    wait_minutes double,
    version      bigint not null,
    primary key (hall_id, observed_at)
);

create sequence if not exists quarantine_seq;
create table if not exists quarantine (
    quarantine_id bigint primary key default nextval('quarantine_seq'),
    feed          varchar not null,
    origin        varchar,
    raw           varchar not null,
    raw_hash      varchar not null,
    reason        varchar not null,
    received_at   timestamp not null,
    reprocessed   boolean not null default false,
    unique (feed, raw_hash, reason)  -- re-importing the same bad record keeps one copy
);

create table if not exists feed_stats (
    feed           varchar primary key,
    last_record_at timestamp,
    last_commit_at timestamp,
    records_total  bigint not null default 0,
    quarantined_total bigint not null default 0
);
