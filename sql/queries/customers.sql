-- name: insert_customer
-- $1: name, $2: api_key_hash, $3: currency, $4: rate limit per minute (NULL: the config's
-- api.rate_limit_per_minute), $5: price group (NULL: none)
INSERT INTO customers (name, api_key_hash, currency, rate_limit_per_minute, price_group)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, balance, currency, suspended, rate_limit_per_minute, created_at,
       price_group, spent_30d;

-- name: list_customers
SELECT id, name, balance, currency, suspended, rate_limit_per_minute, created_at,
       price_group, spent_30d
FROM customers
ORDER BY id;

-- name: customer_by_name
-- $1: name
SELECT id, name, balance, currency, suspended, rate_limit_per_minute, created_at,
       price_group, spent_30d
FROM customers
WHERE name = $1;

-- name: credit_customer
-- Moves a balance and writes its ledger entry in one statement; a result below zero violates
-- customers_balance_check. No row: no such customer.
-- $1: customer name, $2: amount (signed), $3: ledger kind, $4: reason
WITH moved AS (
    UPDATE customers SET balance = balance + $2
    WHERE name = $1
    RETURNING id, balance
), entry AS (
    INSERT INTO ledger (customer_id, amount, kind, reason)
    SELECT id, $2, $3, $4 FROM moved
)
SELECT balance FROM moved;

-- name: set_suspended
-- $1: name, $2: suspended
UPDATE customers SET suspended = $2 WHERE name = $1 RETURNING id;

-- name: set_api_key_hash
-- $1: name, $2: api_key_hash
UPDATE customers SET api_key_hash = $2 WHERE name = $1 RETURNING id;

-- name: customer_by_key_hash
-- With the customer's own prices, in one round trip (NULL arrays: none).
-- $1: api_key_hash
SELECT c.id, c.name, c.balance, c.currency, c.suspended, c.rate_limit_per_minute,
       c.created_at, c.price_group, c.spent_30d, p.price_services, p.price_rates, p.price_discounts
FROM customers c
CROSS JOIN LATERAL (
    SELECT array_agg(service_id ORDER BY service_id) AS price_services,
           array_agg(rate ORDER BY service_id) AS price_rates,
           array_agg(discount_percent ORDER BY service_id) AS price_discounts
    FROM customer_prices WHERE customer_id = c.id
) p
WHERE c.api_key_hash = $1;

-- name: listen_customers
LISTEN customers_changed;

-- name: unlisten_customers
UNLISTEN customers_changed;

-- name: customer_currencies
SELECT DISTINCT currency FROM customers;

-- name: customer_for_update
-- $1: name
SELECT id, name, rate_limit_per_minute, price_group FROM customers WHERE name = $1 FOR UPDATE;

-- name: update_customer
-- $1: id, $2: name, $3: rate limit per minute (NULL: the config's api.rate_limit_per_minute),
-- $4: price group (NULL: none)
UPDATE customers SET name = $2, rate_limit_per_minute = $3, price_group = $4 WHERE id = $1
RETURNING id, name, balance, currency, suspended, rate_limit_per_minute, created_at,
       price_group, spent_30d;

-- name: ledger_sum_before
-- $1: customer id, $2: before (NULL: nothing is before)
SELECT coalesce(sum(amount), 0) FROM ledger WHERE customer_id = $1 AND created_at < $2;

-- name: ledger_entries
-- Oldest first. $1: customer id, $2: from, inclusive (NULL: the first entry),
-- $3: to, exclusive (NULL: the last entry)
SELECT id, created_at, order_id, kind, amount, reason
FROM ledger
WHERE customer_id = $1
  AND ($2::timestamptz IS NULL OR created_at >= $2)
  AND ($3::timestamptz IS NULL OR created_at < $3)
ORDER BY created_at, id;

-- name: customer_id_for_update
-- Serialises changes to one customer's prices. $1: name
SELECT id FROM customers WHERE name = $1 FOR UPDATE;

-- name: customer_prices
-- $1: customer id
SELECT service_id, rate, discount_percent, reason, created_at
FROM customer_prices
WHERE customer_id = $1
ORDER BY service_id;

-- name: customer_price
-- $1: customer id, $2: service id
SELECT service_id, rate, discount_percent FROM customer_prices
WHERE customer_id = $1 AND service_id = $2;

-- name: upsert_customer_price
-- $1: customer id, $2: service id, $3: rate (NULL: a discount), $4: discount percent,
-- $5: reason
INSERT INTO customer_prices (customer_id, service_id, rate, discount_percent, reason)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (customer_id, service_id) DO UPDATE SET
    rate = EXCLUDED.rate, discount_percent = EXCLUDED.discount_percent,
    reason = EXCLUDED.reason, created_at = now();

-- name: delete_customer_price
-- No row: there was none. $1: customer id, $2: service id
DELETE FROM customer_prices WHERE customer_id = $1 AND service_id = $2
RETURNING service_id, rate, discount_percent;

-- name: evaluate_spend
-- What each customer paid for the orders it placed in the last 30 days (charges less refunds,
-- in the base currency at each order's rate), stored where it changed; how many changed.
WITH spent AS (
    SELECT c.id, COALESCE(SUM((o.charge - o.refunded) * o.currency_rate), 0) AS spent
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.id AND o.created_at > now() - interval '30 days'
    GROUP BY c.id
), changed AS (
    UPDATE customers c SET spent_30d = s.spent
    FROM spent s
    WHERE c.id = s.id AND c.spent_30d <> s.spent
    RETURNING c.id
)
SELECT count(*) FROM changed;
