-- Enabled briefing schedules (administrative table; the briefings they produce are scoped by their own scope).
select name, cron, template, scope, lang, window_hours, created_at, last_run_at
from briefing_schedules
where enabled
order by name
