-- Personal eventing: the descriptive node configuration fields (XEP-0060 §16.4.3 pubsub#title,
-- pubsub#description, pubsub#type) and whether pubsub#max_items was `max`, so that the configuration
-- form shows `max` again rather than the number it stood for.
ALTER TABLE pep_nodes ADD COLUMN max_items_max INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pep_nodes ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE pep_nodes ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE pep_nodes ADD COLUMN payload_type TEXT NOT NULL DEFAULT '';
