-- A console session carries its user's session epoch in the signed cookie; logout, a password
-- change and `users revoke NAME` move the epoch, so every session signed before it is refused in
-- every web process (security/users.py end_sessions, api/auth.py).
alter table users add column if not exists session_epoch integer default 0;
update users set session_epoch = 0 where session_epoch is null;
