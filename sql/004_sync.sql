-- Status polling bookkeeping: why an order stopped being polled (flagged for the operator),
-- and the providers' balances as last seen.
ALTER TABLE orders ADD COLUMN poll_stopped text;
DROP INDEX orders_poll_idx;
CREATE INDEX orders_poll_idx ON orders (provider, last_polled_at NULLS FIRST)
    WHERE dispatch_state = 'placed' AND settled_at IS NULL AND poll_stopped IS NULL;
CREATE INDEX refills_poll_idx ON refills (last_polled_at NULLS FIRST)
    WHERE dispatch_state = 'placed' AND status IN ('Pending', 'In progress');

CREATE TABLE provider_balances (
    provider    text PRIMARY KEY,
    balance     numeric NOT NULL,
    currency    char(3) NOT NULL,
    low         boolean NOT NULL,  -- below the configured alert threshold
    checked_at  timestamptz NOT NULL DEFAULT now()
);
