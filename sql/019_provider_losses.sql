-- Checking the provider's side of every order (reseller/orders/provider_check.py).

-- The upstream rate of the candidate the order was sent to, read when dispatch claimed it: in
-- the provider's currency, per 1000 units (per package for package types), as the provider
-- listed it. NULL: not known (sent before this column, or to a candidate never synced).
-- IF NOT EXISTS: another change may bring the same column.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS upstream_rate numeric CHECK (upstream_rate >= 0);

-- What a provider charged us beyond what its rate and its final status say it should: one row
-- per order and kind, kept up to date whenever the order's charge is read (settlement,
-- progress). Amounts in the provider's currency; reports convert them to api.currency.
--   unrefunded:  a Partial or Canceled whose charge did not come down to the delivered share
--                (we refunded our customer; the provider did not refund us);
--   overcharged: a charge above rate × units, whatever the status.
CREATE TABLE provider_losses (
    order_id  bigint NOT NULL REFERENCES orders (id),
    kind      text NOT NULL CHECK (kind IN ('unrefunded', 'overcharged')),
    provider  text NOT NULL,
    expected  numeric NOT NULL CHECK (expected >= 0),  -- what it should have charged
    charged   numeric NOT NULL CHECK (charged >= 0),   -- what it reports charging
    at_stake  numeric NOT NULL CHECK (at_stake > 0),   -- this kind's share of the difference
    found_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, kind)
);
CREATE INDEX provider_losses_found_idx ON provider_losses (provider, found_at);

-- Every balance the balances job read (provider_balances keeps only the last): the daily
-- drift between the balance's drop and our expected spend is measured on these.
CREATE TABLE provider_balance_history (
    provider    text NOT NULL,
    balance     numeric NOT NULL,
    currency    text NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_balance_history_idx ON provider_balance_history (provider, checked_at);
