-- Alerts not closed, most severe and newest first, in the caller's scope.
select alert_id, alert_key, rule, severity, level, unit_id, subject, title_zh, title_en, evidence, state,
       first_seen, last_seen
from scoped_alerts($scope_level, $scope_units, $scope_dept)
where state <> 'closed'
order by case severity when 'high' then 0 else 1 end, last_seen desc
