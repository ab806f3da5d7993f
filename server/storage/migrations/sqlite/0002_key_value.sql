-- Small per-user documents read and written whole (XEP-0049 private XML, vCards, preferences).
-- No foreign key to accounts: a user may authenticate without a local account row; deleteAccount
-- removes the user's rows explicitly, in the same transaction as the account.
CREATE TABLE key_value (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    store TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (host, username, store, key)
) WITHOUT ROWID;
