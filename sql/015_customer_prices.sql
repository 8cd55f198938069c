-- Per-customer price overrides (`reseller customers price`): on top of the customer's price
-- group, a fixed sell rate in the base currency or a discount in percent, one per service.
-- Checked against the service's cost when set and in every answer built from the catalog.
CREATE TABLE customer_prices (
    customer_id      bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
    service_id       int NOT NULL,
    rate             numeric CHECK (rate >= 0),
    discount_percent numeric CHECK (discount_percent >= 0 AND discount_percent <= 100),
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, service_id),
    CHECK ((rate IS NULL) <> (discount_percent IS NULL))
);

-- Servers cache customers (with their overrides) by API key: a change must reach them.
CREATE TRIGGER customer_prices_changed
    AFTER INSERT OR DELETE OR UPDATE ON customer_prices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_customers_changed();
