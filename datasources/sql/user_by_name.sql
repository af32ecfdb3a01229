-- One console user by name (authentication; never exposed to the UI).
select name, password_hash, role, scopes, disabled, failed_logins, locked_until,
       coalesce(session_epoch, 0) as session_epoch
from users
where name = $user_name
