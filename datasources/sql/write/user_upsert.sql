-- Add a console user, or replace an existing one's password, role and scopes: the replaced user is
-- enabled and unlocked, and its console sessions end (a new session epoch).
insert into users (name, password_hash, role, scopes, created_at, disabled, failed_logins, locked_until, session_epoch)
values ($user_name, $password_hash, $role, $scopes, $now, false, 0, null, 0)
on conflict (name) do update set
    password_hash = excluded.password_hash,
    role = excluded.role,
    scopes = excluded.scopes,
    disabled = false,
    failed_logins = 0,
    locked_until = null,
    session_epoch = coalesce(users.session_epoch, 0) + 1
