-- Outbound webhooks per department (issue 6): configuration, an outbox of deliveries and a log of
-- every attempt. Administrative tables written by dispatch/ under the writer lock; times naive UTC.
--
-- A delivery row is written in the same transaction as the dispatch command that caused it (a
-- transactional outbox), so an event is never lost between the commit and the HTTP call: the
-- background worker (dispatch/webhooks.py) sends pending rows, also those left by a restart.

create table if not exists dispatch_webhooks (
    department varchar primary key,       -- one endpoint per department
    url        varchar not null,          -- http(s) URL receiving JSON POSTs
    secret     varchar not null,          -- HMAC-SHA256 key (needed in clear to sign)
    enabled    boolean not null default true,
    created_at timestamp not null,
    updated_at timestamp not null
);

create sequence if not exists dispatch_webhook_delivery_seq;
create table if not exists dispatch_webhook_deliveries (
    delivery_id     bigint primary key default nextval('dispatch_webhook_delivery_seq'),
    event_id        varchar not null,     -- <order_id>@<version>: receivers de-duplicate on it
    event_type      varchar not null,     -- dispatch.<action>
    order_id        varchar not null,
    department      varchar not null,
    payload         varchar not null,     -- the exact JSON body (identical on every attempt)
    state           varchar not null,     -- pending | delivered | failed | cancelled
    attempts        integer not null default 0,
    next_attempt_at timestamp not null,
    created_at      timestamp not null,
    delivered_at    timestamp,
    last_status     integer,              -- HTTP status of the last attempt (null: no answer)
    last_error      varchar
);

-- One row per HTTP attempt (append-only).
create table if not exists dispatch_webhook_attempts (
    delivery_id bigint not null,
    attempt     integer not null,
    at_utc      timestamp not null,
    url         varchar not null,
    status_code integer,
    error       varchar,
    duration_ms double
);
