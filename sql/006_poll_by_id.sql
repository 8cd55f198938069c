-- Status polling walks a provider's open orders by ID (keyset pages of 100) instead of sorting
-- by last poll time: a sort of every open order per batch, and an index entry rewritten at each
-- poll, made a pass over 100 000 orders quadratic. Without last_polled_at in an index, its
-- updates are HOT.
DROP INDEX orders_poll_idx;
CREATE INDEX orders_poll_idx ON orders (provider, id)
    WHERE dispatch_state = 'placed' AND settled_at IS NULL AND poll_stopped IS NULL;
