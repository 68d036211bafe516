-- Accounts, their tenants and their API tokens (SHA-256 of the token: tokens are random
-- 256-bit values, so a fast hash is enough; passwords get Argon2id). Suspended tenants.
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;
-- Who started an operation: a producer reads the replies of its own transfers only.
ALTER TABLE operations ADD COLUMN agent TEXT;

CREATE TABLE accounts (
    login TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT
) STRICT;

CREATE TABLE account_tenants (
    login TEXT NOT NULL REFERENCES accounts(login),
    tenant TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (login, tenant)
) STRICT;

CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX api_tokens_login ON api_tokens(login);
