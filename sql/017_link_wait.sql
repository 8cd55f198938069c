-- One active order per link (issue 16): two orders of one upstream service running on one
-- target underrun at the provider, with no way to recalculate. A new order whose link (compared
-- by its key, `orders.links.link_key`) already has an active order on the same upstream service
-- waits in the queue until that one is final.
ALTER TABLE orders
    ADD COLUMN link_key text,  -- NULL: no link, or placed before keys were kept
    ADD COLUMN waiting_since timestamptz,  -- queued, waiting for its link (NULL: not waiting)
    ADD COLUMN waiting_for bigint;  -- our order it waits for (NULL: none, or one we don't know)

-- The dispatcher's question, on every claim: which unsettled order holds this link there?
CREATE INDEX orders_active_link_idx ON orders (link_key, provider, upstream_service)
    WHERE link_key IS NOT NULL AND settled_at IS NULL;
-- The scan wakes the orders whose wait is over.
CREATE INDEX orders_waiting_idx ON orders (waiting_for) WHERE waiting_for IS NOT NULL;

-- Per service, `allow_overlap: true` in the config: orders that stack fine (views, likes on a
-- post) never wait for each other.
ALTER TABLE services ADD COLUMN allow_overlap boolean NOT NULL DEFAULT false;
