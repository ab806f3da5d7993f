-- Personal eventing (XEP-0163): each account's nodes with their configuration, and the items of each
-- node. `seq` orders a node's items (the newest has the largest); `next_seq` is the node's counter.
-- roster_groups and whitelist are string lists encoded as in roster_items.groups.
CREATE TABLE pep_nodes (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    access_model TEXT NOT NULL,
    max_items INTEGER NOT NULL,
    persist_items INTEGER NOT NULL,
    send_last_published_item TEXT NOT NULL,
    notify_retract INTEGER NOT NULL,
    roster_groups TEXT NOT NULL,
    whitelist TEXT NOT NULL,
    next_seq INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (host, username, node)
) WITHOUT ROWID;

CREATE TABLE pep_items (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    publisher TEXT NOT NULL,
    xml TEXT NOT NULL,
    PRIMARY KEY (host, username, node, item_id)
) WITHOUT ROWID;
CREATE INDEX pep_items_by_seq ON pep_items (host, username, node, seq);
