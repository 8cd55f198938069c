-- The operator's order searches (`orders list`, the console's orders page) read the newest
-- orders by id until a page is full: a filter that matches few orders needs an index of them.
-- Flagged orders (no longer polled, or frozen, and not settled): with orders_frozen_idx.
CREATE INDEX orders_poll_stopped_idx ON orders (id)
    WHERE poll_stopped IS NOT NULL AND settled_at IS NULL;
-- Every order of one target (`link_key`), newest first.
CREATE INDEX orders_link_key_idx ON orders (link_key, id);
