-- TLS client certificates registered to accounts (SHA-256 of the DER certificate).
CREATE TABLE account_certificates (
    sha256 TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    added_at TEXT NOT NULL
) STRICT;
