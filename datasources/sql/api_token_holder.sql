-- The newest token of a holder (revoked or not): its role and scopes. Credentials: not scoped.
select name, role, scopes, created_at, revoked_at
from api_tokens
where name = $holder
order by created_at desc
limit 1
