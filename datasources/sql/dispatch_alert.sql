-- One alert that is not closed, if the scope sees it (scoped_alerts: the alert's unit path).
select alert_id, rule, severity, level, unit_id, unit_path, subject, title_zh, title_en, evidence, state
from scoped_alerts($scope_level, $scope_units, $scope_dept)
where alert_id = $alert_id
  and state <> 'closed'
