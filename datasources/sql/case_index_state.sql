-- The data version and the newest report time the case index is built at (read in its transaction).
select (select coalesce(max(version), 0) from commits) as version,
       (select newest from scoped_case_newest_report($scope_level, $scope_units, $scope_dept)) as newest
