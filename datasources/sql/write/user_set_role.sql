-- A user's new role and scopes; its sessions and tokens follow at the next request (no new epoch).
update users set role = $role, scopes = $scopes
where name = $user_name
returning name
