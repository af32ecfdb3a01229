-- Early-warning alerts: one row per incident. `alert_key` identifies the incident (rule + place +
-- subject); while an alert is not closed, re-evaluations update it instead of opening another.
create sequence if not exists alert_seq;
create table if not exists alerts (
    alert_id   bigint primary key default nextval('alert_seq'),
    alert_key  varchar not null,
    rule       varchar not null,          -- threshold | spike | device_silence | feed_silence
    severity   varchar not null,          -- high | medium
    level      varchar,                   -- pack level of the unit ('' for city-wide)
    unit_id    varchar,
    unit_path  varchar[] not null,        -- the unit's ancestors and itself (scope filter)
    subject    varchar not null,          -- indicator id, device id or feed
    title_zh   varchar not null,
    title_en   varchar not null,
    evidence   varchar not null,          -- JSON: the numbers (and record ids) behind it
    state      varchar not null,          -- new | acknowledged | dispatched | closed
    first_seen timestamp not null,
    last_seen  timestamp not null,
    closed_at  timestamp,
    closed_by  varchar
);

-- A city-wide alert (empty path) is visible to city-wide scopes; a unit's alert to scopes over it.
create or replace macro scoped_alerts(lvl, units, dept) as table
select * from alerts
where (lvl = 0 and dept = '')
   or (lvl > 0 and len(unit_path) >= lvl and list_contains(units, unit_path[lvl]));
