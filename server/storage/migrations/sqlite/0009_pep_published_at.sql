-- Personal eventing: when each item was published (Unix seconds), for the XEP-0203 <delay/> stamp of the
-- last items sent on presence and on subscription (XEP-0060 §6.1.7). Items stored before this migration
-- have 0 and are sent without a stamp.
ALTER TABLE pep_items ADD COLUMN published_at INTEGER NOT NULL DEFAULT 0;
