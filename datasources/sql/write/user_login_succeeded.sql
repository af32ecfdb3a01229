-- A right password: accepted only if the account is enabled and not locked at this moment (checked
-- in the same statement that clears the failure count, so a lock that landed first wins).
update users set failed_logins = 0, locked_until = null
where name = $user_name and not disabled and (locked_until is null or locked_until <= $now)
returning role, scopes, coalesce(session_epoch, 0) as session_epoch
