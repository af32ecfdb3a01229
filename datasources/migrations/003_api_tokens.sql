-- Bearer tokens for the HTTP API, one holder (a feed source or a user) per name, possibly several
-- tokens per holder. Only the SHA-256 of a token is stored; the clear token is shown once.
-- scopes: 'LEVEL:UNIT_ID' or 'department:ID' entries, as for users (empty = the role's default).

create table if not exists api_tokens (
    token_id   varchar primary key,
    name       varchar not null,
    role       varchar not null,
    scopes     varchar[] not null,
    token_hash varchar not null unique,
    created_at timestamp not null,
    revoked_at timestamp
);
