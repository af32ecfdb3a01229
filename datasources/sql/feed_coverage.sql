-- Earliest record of each feed in the scope: a comparison window (环比, 同比, spot baselines) that
-- starts before it is not covered by data, and its zeros would mean "no data", not "none happened".
select 'ind_cases' as feed, min(reported_at) as first_at
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
union all
select 'ind_air', min(observed_at)
from scoped_readings($scope_level, $scope_units)
union all
select 'ind_waits', least(
    (select min(ticket_at) from scoped_service_transactions($scope_level, $scope_units)),
    (select min(observed_at) from scoped_hall_snapshots($scope_level, $scope_units)))
