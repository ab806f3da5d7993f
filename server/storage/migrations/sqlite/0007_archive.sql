-- Message archive (XEP-0313, docs/storage.md "Message archive"). `seq` orders each user's archive by
-- insertion; `id` is the XEP-0359 stanza-id clients page with. Every query names the owner first, so
-- each index starts with (host, username): a query reads only the rows of its page, never the table.
CREATE TABLE archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    id TEXT NOT NULL,
    stamp INTEGER NOT NULL,           -- Unix milliseconds
    with_bare TEXT NOT NULL,          -- the other party's bare JID
    with_resource TEXT NOT NULL,      -- its resource, '' when none
    xml TEXT NOT NULL,                -- the message as archived
    body TEXT NOT NULL                -- what full-text search sees
);

CREATE UNIQUE INDEX archive_by_id ON archive (host, username, id);
CREATE INDEX archive_by_owner ON archive (host, username, seq);
CREATE INDEX archive_by_with ON archive (host, username, with_bare, seq);
CREATE INDEX archive_by_stamp ON archive (host, username, stamp);
-- Retention removes old messages of every user.
CREATE INDEX archive_by_age ON archive (stamp);

-- How many messages each user has, kept by the triggers below, so the quota check at each append and
-- the count of an unfiltered query read one row instead of counting the archive.
CREATE TABLE archive_counts (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (host, username)
) WITHOUT ROWID;

-- Full-text search over the bodies (FTS5 external content: the text is stored once, in archive).
CREATE VIRTUAL TABLE archive_text USING fts5(body, content='archive', content_rowid='seq');

CREATE TRIGGER archive_inserted AFTER INSERT ON archive BEGIN
    INSERT INTO archive_text (rowid, body) VALUES (new.seq, new.body);
    INSERT INTO archive_counts (host, username, count) VALUES (new.host, new.username, 1)
        ON CONFLICT (host, username) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER archive_deleted AFTER DELETE ON archive BEGIN
    INSERT INTO archive_text (archive_text, rowid, body) VALUES ('delete', old.seq, old.body);
    UPDATE archive_counts SET count = count - 1 WHERE host = old.host AND username = old.username;
END;
