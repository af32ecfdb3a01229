-- Briefing schedules (cron-like, in the city's time zone). last_run_at is the scheduled time of the
-- newest run done (naive UTC); runs missed while no writer ran are caught up from it.
create table if not exists briefing_schedules (
    name         varchar primary key,
    cron         varchar not null,       -- "minute hour day-of-month month day-of-week" (0 = Sunday)
    template     varchar not null,
    scope        varchar not null,
    lang         varchar not null,
    window_hours double not null,
    created_at   timestamp not null,
    last_run_at  timestamp not null,
    enabled      boolean not null default true
);
