-- Disable a user: its sessions and tokens are refused at the next request.
update users set disabled = true
where name = $user_name
returning name
