-- Spend tiers (pricing.groups.*.tiers): a customer's discount follows what it paid in the last
-- 30 days, in the base currency. The tiers job re-evaluates it; the API prices by the stored
-- figure, so a tier changes between orders, never during one.
ALTER TABLE customers ADD COLUMN spent_30d numeric NOT NULL DEFAULT 0 CHECK (spent_30d >= 0);

-- What the price list would have charged for the order, in its currency (NULL: placed before
-- this column, at the price list), so that `report` shows the discount each customer was given.
ALTER TABLE orders ADD COLUMN list_charge numeric(20, 5) CHECK (list_charge >= 0);

-- The job sums each customer's orders of the last 30 days.
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at);

-- Servers cache customers by API key: a re-evaluated spend must reach them like a new group.
DROP TRIGGER customers_changed ON customers;
CREATE TRIGGER customers_changed
    AFTER INSERT OR DELETE OR UPDATE OF api_key_hash, suspended, rate_limit_per_minute, name,
        price_group, spent_30d
    ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_customers_changed();
