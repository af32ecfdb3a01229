-- The live (not revoked) token with this SHA-256 hash. Credentials, not feed records: not scoped.
select token_id, name, role, scopes, created_at
from api_tokens
where token_hash = $token_hash and revoked_at is null
