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

-- Full-text search over the bodies: a contentless FTS5 table (the text is stored once, in archive),
-- whose `owner` column holds one token per user ('o' and the hex of host, a line feed and username), so
-- that a search intersects the words with that user's messages instead of every user's matches.
CREATE VIRTUAL TABLE archive_text USING fts5(owner, body, content='');

CREATE TRIGGER archive_inserted AFTER INSERT ON archive BEGIN
    INSERT INTO archive_text (rowid, owner, body)
        VALUES (new.seq, 'o' || hex(new.host || char(10) || new.username), new.body);
    INSERT INTO archive_counts (host, username, count) VALUES (new.host, new.username, 1)
        ON CONFLICT (host, username) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER archive_deleted AFTER DELETE ON archive BEGIN
    INSERT INTO archive_text (archive_text, rowid, owner, body)
        VALUES ('delete', old.seq, 'o' || hex(old.host || char(10) || old.username), old.body);
    UPDATE archive_counts SET count = count - 1 WHERE host = old.host AND username = old.username;
END;
