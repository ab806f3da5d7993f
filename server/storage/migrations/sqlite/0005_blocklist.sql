-- Blocked JIDs (XEP-0191): bare, full or domain JIDs as the user gave them, prepared.
CREATE TABLE blocklist (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (host, username, jid)
) WITHOUT ROWID;
