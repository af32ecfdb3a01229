-- A new password hash; every session of the user signed before ends (a new session epoch).
update users set password_hash = $password_hash, failed_logins = 0, locked_until = null,
                 session_epoch = coalesce(session_epoch, 0) + 1
where name = $user_name
returning session_epoch
