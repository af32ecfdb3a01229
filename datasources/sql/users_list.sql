-- Users without their password hashes.
select name, role, scopes, created_at, disabled, locked_until
from users
order by name
