-- Stored briefings, newest first, without their bodies.
select id, template, scope, "start", "end", lang, created_at, octet_length(pdf) as pdf_bytes
from briefings
order by id desc
limit $limit
