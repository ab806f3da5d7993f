-- Offline messages (XEP-0160), delivered oldest first. The id is a global AUTOINCREMENT: increasing
-- per user in arrival order, and never reused, even once the user's messages are all removed, so a
-- stale id held by one session can never remove a newer message.
CREATE TABLE offline_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    stored_at INTEGER NOT NULL,  -- Unix milliseconds
    xml TEXT NOT NULL            -- the stanza as it will be delivered
);

CREATE INDEX offline_messages_by_user ON offline_messages (host, username, id);
