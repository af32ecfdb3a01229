-- Audit rows from $since on, oldest first, after audit id $after_audit_id (a cursor), at most $limit.
select audit_id, at_utc, actor, role, action, target, detail, origin
from audit
where at_utc >= $since and audit_id > $after_audit_id
order by audit_id
limit $limit
