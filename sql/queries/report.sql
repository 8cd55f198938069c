-- name: report
-- Revenue, refunds and upstream cost of the orders placed in [$1, $2), grouped by $3
-- ('provider' | 'service' | 'customer' | 'day', a UTC date), by provider (whose currency the cost is in) and by
-- the customers' currency (revenue and discount in it, and in the base currency at each
-- order's rate).
-- service_id is the key's number when grouped by service (NULL otherwise): report.build sorts
-- the lines by it, so service 2 comes before service 10.
-- $1: from (timestamptz), $2: to (timestamptz), $3: grouping
SELECT CASE $3::text
           WHEN 'provider' THEN coalesce(o.provider, '-')
           WHEN 'service' THEN o.service_id::text || ' ' || s.name
           WHEN 'day' THEN to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
           ELSE c.name
       END AS key,
       CASE WHEN $3::text = 'service' THEN o.service_id END AS service_id,
       o.provider,
       o.currency,
       count(*) AS orders,
       sum(o.charge) AS charged,
       sum(o.refunded) AS refunded,
       sum((o.charge - o.refunded) * o.currency_rate) AS revenue_base,
       sum(o.refunded * o.currency_rate) AS refunds_base,
       sum(d.discount) AS discount,
       sum(d.discount * o.currency_rate) AS discount_base,
       coalesce(sum(o.cost), 0) AS cost,
       count(*) FILTER (WHERE o.cost IS NULL AND o.dispatch_state = 'placed') AS cost_unknown
FROM orders o
JOIN customers c ON c.id = o.customer_id
JOIN services s ON s.id = o.service_id
-- The discount on what was finally paid: the price list's charge less the order's, for the
-- share not refunded (a markup group's is negative). Orders without list_charge: none.
CROSS JOIN LATERAL (
    SELECT CASE WHEN o.charge > 0
                THEN (coalesce(o.list_charge, o.charge) - o.charge) * (o.charge - o.refunded)
                     / o.charge
                ELSE 0 END AS discount
) d
WHERE o.created_at >= $1 AND o.created_at < $2
GROUP BY 1, 2, 3, 4;
