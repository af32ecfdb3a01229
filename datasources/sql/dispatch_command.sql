-- The first result of a command id (idempotent dispatch commands).
select command_id, order_id, action, actor, status, result
from dispatch_commands
where command_id = $command_id
