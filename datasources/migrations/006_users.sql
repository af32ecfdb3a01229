-- Console users: argon2 password hashes, a role and scopes ('LEVEL:UNIT_ID' or 'department:ID').
-- failed_logins / locked_until implement the lockout after repeated failures.
create table if not exists users (
    name          varchar primary key,
    password_hash varchar,
    role          varchar not null,
    scopes        varchar[] not null,
    created_at    timestamp not null,
    disabled      boolean not null default false,
    failed_logins integer not null default 0,
    locked_until  timestamp
);

-- Append-only audit of reads of personal data and of commands (who, role, when, what).
create sequence if not exists audit_seq;
create table if not exists audit (
    audit_id  bigint primary key default nextval('audit_seq'),
    at_utc    timestamp not null,
    actor     varchar not null,
    role      varchar not null,
    action    varchar not null,
    target    varchar,
    detail    varchar,
    origin    varchar
);

-- Quarantine (raw payloads, possibly personal data, no unit) is visible to city-wide scopes
-- without a department filter only.
create or replace macro scoped_quarantine(lvl, dept) as table
select * from quarantine where lvl = 0 and dept = '';
