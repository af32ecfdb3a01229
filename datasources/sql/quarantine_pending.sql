-- Raw payloads of one feed's quarantined records still waiting for a fix ($reason_like: '' = all).
select quarantine_id, raw, reason
from scoped_quarantine($scope_level, $scope_dept)
where feed = $feed and not reprocessed and ($reason_like = '' or reason ilike '%' || $reason_like || '%')
order by quarantine_id
