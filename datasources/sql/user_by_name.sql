-- One console user by name (authentication; never exposed to the UI).
select name, password_hash, role, scopes, disabled, failed_logins, locked_until
from users
where name = $user_name
