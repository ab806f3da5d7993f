-- Accounts and their SCRAM credentials (RFC 5802 §3: salt, iteration count, StoredKey, ServerKey).
-- Passwords are never stored.
CREATE TABLE accounts (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (host, username)
) WITHOUT ROWID;

CREATE TABLE scram_credentials (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    algorithm TEXT NOT NULL,  -- "SHA-1", "SHA-256", "SHA-512" (IANA hash names, as in SCRAM-SHA-256)
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    PRIMARY KEY (host, username, algorithm),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
) WITHOUT ROWID;
