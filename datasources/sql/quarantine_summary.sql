-- Quarantined records not yet re-processed, per feed and reason, newest first.
select feed, reason, count(*) as records, max(received_at) as last_at
from scoped_quarantine($scope_level, $scope_dept)
where not reprocessed
group by feed, reason
order by feed, records desc
