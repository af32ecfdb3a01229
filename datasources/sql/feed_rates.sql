-- Per feed over the last hour before $as_of: records applied per minute (last 5 minutes) and the
-- share of records quarantined. Commit log only (no records): not scoped.
select feed,
       coalesce(sum(accepted + updated) filter (where committed_at > $as_of - interval 5 minute), 0) / 5.0 as rate_per_min,
       sum(quarantined) / nullif(sum(accepted + updated + quarantined), 0) as quarantine_rate_1h
from commits
where committed_at > $as_of - interval 1 hour and committed_at <= $as_of
group by feed
