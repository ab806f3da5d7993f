-- Message archive counts (XEP-0059 <count/> and <first index/>, docs/storage.md "Message archive"):
-- a query that filters by `with` and by time or resource counts its matches over this index alone,
-- instead of reading each matching message. archive_by_with keeps serving the pages (in seq order).
CREATE INDEX archive_by_with_stamp ON archive (host, username, with_bare, stamp, with_resource);
