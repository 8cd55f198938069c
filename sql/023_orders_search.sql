-- The operator's order searches (`orders list`, the console's orders page) read the newest
-- orders by id until a page is full: a filter that matches few orders needs an index of them.
-- Flagged orders (no longer polled, or frozen, and not settled): with orders_frozen_idx.
CREATE INDEX orders_poll_stopped_idx ON orders (id)
    WHERE poll_stopped IS NOT NULL AND settled_at IS NULL;
-- Every order of one target (`link_key`), and of one service, newest first. Neither column
-- changes once the order is placed: an insert pays for them, no update does. No index on
-- status, which changes as orders move: a rare status is found by reading the table (about
-- 0.2 s with 1 000 000 orders).
CREATE INDEX orders_link_key_idx ON orders (link_key, id);
CREATE INDEX orders_service_idx ON orders (service_id, id);
