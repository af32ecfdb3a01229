-- End every console session of a user (logout, `users revoke NAME`): a new session epoch.
update users set session_epoch = coalesce(session_epoch, 0) + 1
where name = $user_name
returning session_epoch
