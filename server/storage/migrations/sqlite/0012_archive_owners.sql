-- Message archive, cheaper to append to (docs/storage.md "Message archive", issue 6): each owner is
-- a small integer (archive_owners, which also keeps the counts of archive_counts), the archive has
-- four indexes instead of six, and full-text indexing runs in large batches behind a watermark instead
-- of in every append's transaction. Every message, its seq and its id are kept.
CREATE TABLE archive_owners (
    owner INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,  -- how many messages the owner has (quota, unfiltered count)
    UNIQUE (host, username)
);
INSERT INTO archive_owners (host, username, count)
    SELECT host, username, count(*) FROM archive GROUP BY host, username ORDER BY host, username;

-- One row of facts about the whole archive. `indexed`: the messages up to this seq are in
-- archive_text. `ordered`: 1 while the stamps never decrease in seq order, so that a time range is a
-- seq range found in archive_by_age; a clock set back clears it and time ranges are then read row by row.
CREATE TABLE archive_state (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    indexed INTEGER NOT NULL,
    ordered INTEGER NOT NULL
);

CREATE TABLE archive_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner INTEGER NOT NULL,
    id TEXT NOT NULL,
    stamp INTEGER NOT NULL,           -- Unix milliseconds
    with_bare TEXT NOT NULL,          -- the other party's bare JID
    with_resource TEXT NOT NULL,      -- its resource, '' when none
    xml TEXT NOT NULL,                -- the message as archived
    body TEXT NOT NULL                -- what full-text search sees
);
INSERT INTO archive_new (seq, owner, id, stamp, with_bare, with_resource, xml, body)
    SELECT a.seq, o.owner, a.id, a.stamp, a.with_bare, a.with_resource, a.xml, a.body
    FROM archive AS a JOIN archive_owners AS o ON o.host = a.host AND o.username = a.username
    ORDER BY a.seq;
-- AUTOINCREMENT: a seq is never given twice, even after the newest messages were removed.
DELETE FROM sqlite_sequence WHERE name = 'archive_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'archive_new', seq FROM sqlite_sequence WHERE name = 'archive';

INSERT INTO archive_state (one, indexed, ordered)
    SELECT 1, 0, NOT EXISTS (
        SELECT 1 FROM (SELECT stamp < lag(stamp) OVER (ORDER BY seq) AS back FROM archive_new) WHERE back);

DROP TRIGGER archive_inserted;
DROP TRIGGER archive_deleted;
DROP TABLE archive_text;
DROP TABLE archive_counts;
DROP TABLE archive;
DELETE FROM sqlite_sequence WHERE name = 'archive';
ALTER TABLE archive_new RENAME TO archive;

-- Every query names the owner first; the ids are looked up per archive; retention removes by age.
CREATE UNIQUE INDEX archive_by_id ON archive (owner, id);
CREATE INDEX archive_by_owner ON archive (owner, seq);
CREATE INDEX archive_by_with ON archive (owner, with_bare, seq);
CREATE INDEX archive_by_age ON archive (stamp);

-- Full-text search: contentless (the text is stored once, in archive); the `owner` column holds one
-- token per owner ('o' and its number), so a search intersects the words with that owner's messages.
-- Filled by the store in batches up to archive_state.indexed (0: the whole archive is indexed again).
CREATE VIRTUAL TABLE archive_text USING fts5(owner, body, content='');

-- Removals keep the counts and the full-text index (only for what it holds: a contentless FTS5 table
-- must be told exactly what it indexed).
CREATE TRIGGER archive_deleted AFTER DELETE ON archive BEGIN
    INSERT INTO archive_text (archive_text, rowid, owner, body)
        SELECT 'delete', old.seq, 'o' || old.owner, old.body
        WHERE old.seq <= (SELECT indexed FROM archive_state);
    UPDATE archive_owners SET count = count - 1 WHERE owner = old.owner;
END;
