-- Sessions of the web application (decision 13): the SHA-256 of each token, never the
-- token; gone with their account's disabling, their expiry or their signing out.
CREATE TABLE web_sessions (
    token_sha256 TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    csrf TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    address TEXT,
    tenant TEXT REFERENCES tenants(id)
) STRICT;
CREATE INDEX web_sessions_login ON web_sessions(login);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen);
CREATE INDEX web_sessions_opened_at ON web_sessions(opened_at);
