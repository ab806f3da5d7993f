-- Tombstones of deleted accounts (cf. Prosody's mod_tombstones): the name stays taken, so a new account
-- cannot receive what the old one's contacts still send, nor be mistaken for it by a client that cached
-- the old roster. deleteAccount writes the row in the same transaction as the deletion; an administrator
-- removes it (parleyctl release) to free the name. Kept forever otherwise.
CREATE TABLE account_tombstones (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,  -- Unix seconds
    PRIMARY KEY (host, username)
) WITHOUT ROWID;
