-- One stored briefing (briefings/store.py). Not a feed table: briefings are read whole by id.
select id, template, scope, "start", "end", lang, created_at, snapshot, html, pdf
from briefings
where id = $briefing_id
