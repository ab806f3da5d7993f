-- Rosters (RFC 6121 §2) with their subscription states (§3, Appendix A) and versions (§2.6).
-- No foreign key to accounts, as for key_value: deleteAccount removes the user's rows explicitly, in
-- the same transaction as the account.
CREATE TABLE roster_items (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,  -- the contact's bare JID, prepared
    name TEXT NOT NULL,
    -- Every group escaped ("\" as "\\", a line feed as "\n") and followed by a line feed, in the
    -- order given: '' is no group, 'a' || char(10) || 'b' || char(10) is "a" and "b".
    groups TEXT NOT NULL,
    subscription INTEGER NOT NULL CHECK (subscription BETWEEN 0 AND 3),  -- 0 none, 1 to, 2 from, 3 both
    ask_out INTEGER NOT NULL CHECK (ask_out IN (0, 1)),
    pending_in INTEGER NOT NULL CHECK (pending_in IN (0, 1)),
    pre_approved INTEGER NOT NULL CHECK (pre_approved IN (0, 1)),
    listed INTEGER NOT NULL CHECK (listed IN (0, 1)),
    pending_in_stanza TEXT NOT NULL,  -- '' when there is none
    version INTEGER NOT NULL,         -- the roster version of this item's last change
    PRIMARY KEY (host, username, jid)
) WITHOUT ROWID;

-- One row per user who ever had a roster change. removed_since: roster_tombstones holds every removal
-- whose version is at least this (except of jids added again since); when tombstones are pruned it
-- becomes the newest pruned version + 1, and a client older than it gets the whole roster.
CREATE TABLE roster_versions (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    version INTEGER NOT NULL,
    removed_since INTEGER NOT NULL,
    PRIMARY KEY (host, username)
) WITHOUT ROWID;

-- The latest removals (at most 200 per user, the oldest are pruned), for §2.6 pushes of only what
-- changed. Re-adding a jid deletes its tombstone.
CREATE TABLE roster_tombstones (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    version INTEGER NOT NULL,  -- the roster version of the removal
    PRIMARY KEY (host, username, jid)
) WITHOUT ROWID;

CREATE INDEX roster_tombstones_by_version ON roster_tombstones (host, username, version);
