-- name: place_order
-- Debit, order and ledger entry in one statement: the debit only happens when the balance
-- covers the charge (re-checked after the row lock, so concurrent adds cannot overdraw), and
-- without a debit nothing is inserted. No row: insufficient balance.
-- The charge was priced in the customer's currency $9: a customer whose currency is not that
-- one (it cannot change, but a price must never be read in another currency) is not debited.
-- $1: customer id, $2: charge, $3: service id, $4: link, $5: quantity, $6: runs,
-- $7: interval, $8: fields (jsonb), $9: currency, $10: its rate (1 unit in the base currency),
-- $11: what the price list would have charged (NULL: not known), $12: the link's key,
-- $13: drip-feed emulated (orders.drip): the order itself is never dispatched, its runs are,
-- the first at once and one every $7 minutes after it
WITH debit AS (
    UPDATE customers SET balance = balance - $2
    WHERE id = $1 AND balance >= $2 AND currency = $9
    RETURNING id, currency
), placed AS (
    INSERT INTO orders (customer_id, service_id, link, quantity, runs, run_interval, fields,
                        charge, currency, currency_rate, list_charge, link_key, drip_emulated,
                        dispatch_state)
    SELECT id, $3, $4, $5, $6, $7, $8, $2, currency, $10, $11, $12, $13,
           CASE WHEN $13 THEN 'placed' ELSE 'queued' END
    FROM debit
    RETURNING id, customer_id, charge, created_at
), entry AS (
    INSERT INTO ledger (customer_id, amount, kind, order_id)
    SELECT customer_id, -charge, 'charge', id FROM placed
), planned AS (
    INSERT INTO order_runs (order_id, run, quantity, due_at)
    SELECT id, n, $5, created_at + make_interval(mins => (n - 1) * $7)
    FROM placed, generate_series(1, CASE WHEN $13 THEN $6 ELSE 0 END) AS n
)
SELECT id FROM placed;

-- name: place_orders
-- Group commit (orders.batching): several adds of one customer in one statement, as
-- place_order places each, in arrival order. The customer's row is locked once; each order is
-- accepted only if what the ones before it left covers it (a refused one does not stop smaller
-- ones after it) and it was priced in the customer's currency; the accepted ones are debited
-- once, in total, and inserted with their ledger entries and drip-feed runs. Order IDs are
-- drawn before the insert so that each answer goes to its own request.
-- $1: customer id; $2-$13: one array per place_order argument $2-$13, one element per order.
-- Rows: (n, id) for each accepted order, n its position from 1; a missing n was refused.
WITH RECURSIVE wanted AS (
    SELECT * FROM unnest($2::numeric[], $3::integer[], $4::text[], $5::integer[],
                         $6::integer[], $7::integer[], $8::jsonb[], $9::char(3)[],
                         $10::numeric[], $11::numeric[], $12::text[], $13::boolean[])
        WITH ORDINALITY AS w(charge, service_id, link, quantity, runs, run_interval, fields,
                             currency, currency_rate, list_charge, link_key, drip_emulated, n)
), locked AS (
    SELECT balance, currency FROM customers WHERE id = $1 FOR UPDATE
), walk (n, remaining, accepted) AS (
    SELECT 0::bigint, balance::numeric, false FROM locked
    UNION ALL
    SELECT w.n, CASE WHEN fits THEN walk.remaining - w.charge ELSE walk.remaining END, fits
    FROM walk JOIN wanted w ON w.n = walk.n + 1,
         LATERAL (SELECT w.charge <= walk.remaining
                         AND w.currency = (SELECT currency FROM locked)) AS f (fits)
), accepted AS MATERIALIZED (
    SELECT w.*, nextval('orders_id_seq') AS id
    FROM walk JOIN wanted w USING (n)
    WHERE walk.accepted
), debit AS (
    UPDATE customers SET balance = balance - (SELECT sum(charge) FROM accepted)
    WHERE id = $1 AND EXISTS (SELECT FROM accepted)
), placed AS (
    INSERT INTO orders (id, customer_id, service_id, link, quantity, runs, run_interval, fields,
                        charge, currency, currency_rate, list_charge, link_key, drip_emulated,
                        dispatch_state)
    SELECT id, $1, service_id, link, quantity, runs, run_interval, fields, charge, currency,
           currency_rate, list_charge, link_key, drip_emulated,
           CASE WHEN drip_emulated THEN 'placed' ELSE 'queued' END
    FROM accepted
    RETURNING id, charge, quantity, runs, run_interval, drip_emulated, created_at
), entry AS (
    INSERT INTO ledger (customer_id, amount, kind, order_id)
    SELECT $1, -charge, 'charge', id FROM placed
), planned AS (
    INSERT INTO order_runs (order_id, run, quantity, due_at)
    SELECT id, n, quantity, created_at + make_interval(mins => (n - 1) * run_interval)
    FROM placed, generate_series(1, CASE WHEN drip_emulated THEN runs ELSE 0 END) AS n
)
SELECT n, id FROM accepted;

-- name: request_refill
-- No row: unknown order, refill not offered, not in a refillable state, or one already open.
-- An emulated drip-feed has no one upstream order to refill (its runs are several).
-- $1: customer id, $2: order id
INSERT INTO refills (order_id, customer_id)
SELECT o.id, o.customer_id
FROM orders o JOIN services s ON s.id = o.service_id
WHERE o.id = $2 AND o.customer_id = $1 AND s.refill AND o.status IN ('Completed', 'Partial')
  AND NOT o.drip_emulated
ON CONFLICT (order_id) WHERE status IN ('Pending', 'In progress') DO NOTHING
RETURNING id;

-- name: order_exists
-- $1: customer id, $2: order id
SELECT EXISTS (SELECT 1 FROM orders WHERE id = $2 AND customer_id = $1);

-- name: refill_statuses
-- $1: customer id, $2: refill ids (bigint[])
SELECT id, status FROM refills WHERE customer_id = $1 AND id = ANY($2::bigint[]);

-- name: request_cancel
-- No row: unknown order, cancel not offered, already final, or already requested.
-- $1: customer id, $2: order id
INSERT INTO cancel_requests (order_id, customer_id)
SELECT o.id, o.customer_id
FROM orders o JOIN services s ON s.id = o.service_id
WHERE o.id = $2 AND o.customer_id = $1 AND s.cancel
  AND o.status IN ('Pending', 'Processing', 'In progress')
ON CONFLICT (order_id) DO NOTHING
RETURNING id;

-- name: customer_balance
-- $1: customer id
SELECT balance, currency FROM customers WHERE id = $1;

-- name: order_statuses_json
-- The status answer, built by PostgreSQL: one object keyed by the IDs as sent, in their
-- order, an error for any that is not the customer's order. Money is formatted as
-- money.format_amount does: trailing zeros trimmed, at least 2 decimals.
-- $1: customer id, $2: the IDs as sent (text[], distinct)
SELECT json_object_agg(
    t.token,
    CASE WHEN o.id IS NULL THEN json_build_object('error', 'Incorrect order ID')
    ELSE json_build_object(
        'charge', CASE WHEN scale(trim_scale(o.charge - o.refunded)) < 2
                       THEN round(o.charge - o.refunded, 2)::text
                       ELSE trim_scale(o.charge - o.refunded)::text END,
        'start_count', coalesce(o.start_count, 0)::text,
        'status', o.status,
        'remains', coalesce(o.remains, o.quantity * coalesce(o.runs, 1))::text,
        'currency', o.currency)
    END
    ORDER BY t.n
)::text
FROM unnest($2::text[]) WITH ORDINALITY AS t(token, n)
LEFT JOIN orders o
    ON o.customer_id = $1
   AND o.id = CASE WHEN t.token ~ '^[0-9]{1,18}$' THEN t.token::bigint END;
