-- name: report
-- Revenue, refunds and upstream cost of the orders placed in [$1, $2), grouped by $3
-- ('provider' | 'service' | 'customer') and by provider (whose currency the cost is in).
-- $1: from (timestamptz), $2: to (timestamptz), $3: grouping
SELECT CASE $3::text
           WHEN 'provider' THEN coalesce(o.provider, '-')
           WHEN 'service' THEN o.service_id::text || ' ' || s.name
           ELSE c.name
       END AS key,
       o.provider,
       count(*) AS orders,
       sum(o.charge) AS charged,
       sum(o.refunded) AS refunded,
       coalesce(sum(o.cost), 0) AS cost,
       count(*) FILTER (WHERE o.cost IS NULL AND o.dispatch_state = 'placed') AS cost_unknown
FROM orders o
JOIN customers c ON c.id = o.customer_id
JOIN services s ON s.id = o.service_id
WHERE o.created_at >= $1 AND o.created_at < $2
GROUP BY 1, 2
ORDER BY 1;
