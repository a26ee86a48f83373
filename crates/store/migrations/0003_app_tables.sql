-- Infusio schema, version 3: the workflow layer's own tables, so that backups, restores and
-- `infusio db migrate` cover them like every other table. The same SQL on both backends.
-- `IF NOT EXISTS`: earlier builds created these tables beside the schema at start-up, with
-- exactly these definitions.

-- Signed-in sessions and API tokens: only a SHA-256 of each token is stored.
CREATE TABLE IF NOT EXISTS app_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    csrf_token TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    last_seen_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL
);

-- Consecutive failed sign-ins per user name, and the lockout they caused.
CREATE TABLE IF NOT EXISTS app_sign_in_failures (
    username TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until_us BIGINT NOT NULL
);

-- Idempotency keys of creates: a retried submit returns the entity the first one made.
CREATE TABLE IF NOT EXISTS app_idempotency (
    idem_key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);
