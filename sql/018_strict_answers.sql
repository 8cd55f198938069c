-- The strict answer table (issue 16, part 2): a status answer outside what an order allows
-- (an unknown status word, remains above its quantity or negative, a charge above what it can
-- cost) freezes the order: nothing settles on it, it is re-polled, the operator can resolve it.

-- The upstream service's rate when the order was claimed for its provider, in the provider's
-- currency (the currency of the status `charge`): the most the order can cost us follows.
-- NULL: claimed before this column, or the service was not synced yet (no charge check).
ALTER TABLE orders ADD COLUMN upstream_rate numeric CHECK (upstream_rate >= 0);

-- Why the order is frozen, and the provider's answer as it came (NULL: not frozen).
ALTER TABLE orders ADD COLUMN frozen text;
ALTER TABLE orders ADD COLUMN frozen_answer jsonb;
ALTER TABLE orders ADD CONSTRAINT orders_frozen_with_answer
    CHECK ((frozen IS NULL) = (frozen_answer IS NULL));
CREATE INDEX orders_frozen_idx ON orders (id) WHERE frozen IS NOT NULL AND settled_at IS NULL;
