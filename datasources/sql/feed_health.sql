-- Per feed: newest record time, last commit, totals. Metadata only, no records: not scoped.
select feed, last_record_at, last_commit_at, records_total, quarantined_total
from feed_stats
order by feed
