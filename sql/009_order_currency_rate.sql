-- What 1 unit of the order's currency (its customer's) was worth in the base currency
-- (`api.currency`) when the order was placed: reports convert revenue with the rate the sale
-- was made at, and a later rate change never reaches an order already placed.
ALTER TABLE orders ADD COLUMN currency_rate numeric NOT NULL DEFAULT 1 CHECK (currency_rate > 0);
