-- orders.cost_currency was never written nor read: an order's cost (the provider's `charge`) is
-- in its provider's currency, which the config names (providers[].currency) and the report
-- groups the cost by. A column that is always NULL only misleads a reader of the schema.
ALTER TABLE orders DROP COLUMN cost_currency;
