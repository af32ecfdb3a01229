-- The newest case follow-up of each order (or of one order: $order_id <> '') still waiting to be
-- applied to the linked cases (migration 020); older pending ones are superseded by it.
select order_id, version, status, closed_at, case_ids
from (
    select *, row_number() over (partition by order_id order by version desc) as newest
    from dispatch_case_follow
    where $order_id = '' or order_id = $order_id
)
where newest = 1 and applied_at is null
order by order_id
