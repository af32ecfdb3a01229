-- Revoke one live token (by its hash) or every live token of a holder (by name).
update api_tokens set revoked_at = $now
where (token_hash = $token_hash or name = $holder) and revoked_at is null
returning token_id, name
