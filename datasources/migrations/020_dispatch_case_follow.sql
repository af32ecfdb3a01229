-- An outbox for the linked cases of a dispatch command: written in the order's transaction, applied
-- to the cases right after its commit and marked applied. A writer killed in between leaves the row
-- pending; the writer applies pending rows when it starts and when a client retries the command
-- (dispatch/service.py repair_case_follow), so an acknowledged command never leaves its cases behind.
create table if not exists dispatch_case_follow (
    order_id varchar not null,
    version integer not null,
    status varchar not null,          -- the workflow status the linked cases take
    closed_at timestamp,              -- their closure time (null: not closed, or keep the first one)
    case_ids varchar[] not null,
    created_at timestamp not null,
    applied_at timestamp,
    primary key (order_id, version)
);
