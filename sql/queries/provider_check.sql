-- The provider's side of each order (orders/provider_check.py) and the reports on it.

-- name: orders_to_check
-- Orders the provider has, with a rate and a charge to compare. `type` is the upstream
-- service's (it decides per package or per 1000), the local one when it is no longer offered.
-- $1: order ids
SELECT o.id, o.provider, o.status, o.settled_at IS NOT NULL AS settled, o.remains, o.cost,
       o.upstream_rate, o.quantity * coalesce(o.runs, 1) AS units, coalesce(o.runs, 1) AS runs,
       coalesce(u.type, s.type) AS type
FROM orders o
JOIN services s ON s.id = o.service_id
LEFT JOIN upstream_services u ON u.provider = o.provider AND u.service_id = o.upstream_service
WHERE o.id = ANY($1::bigint[]) AND o.dispatch_state = 'placed'
  AND o.cost IS NOT NULL AND o.upstream_rate IS NOT NULL;

-- name: forget_losses
-- What a check of these orders no longer finds.
-- $1: order ids checked, $2 and $3: the (order id, kind) pairs still found
DELETE FROM provider_losses
WHERE order_id = ANY($1::bigint[])
  AND (order_id, kind) NOT IN (SELECT * FROM unnest($2::bigint[], $3::text[]));

-- name: record_losses
-- Found now; one already recorded keeps when it was first found. Returns the new ones.
-- $1: order ids, $2: kinds, $3: providers, $4: expected, $5: charged, $6: at stake
WITH written AS (
    INSERT INTO provider_losses AS p (order_id, kind, provider, expected, charged, at_stake)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::numeric[], $5::numeric[],
                         $6::numeric[])
    ON CONFLICT (order_id, kind) DO UPDATE SET
        expected = EXCLUDED.expected, charged = EXCLUDED.charged, at_stake = EXCLUDED.at_stake
    RETURNING p.order_id, p.kind, p.provider, p.at_stake, xmax = 0 AS inserted
)
SELECT order_id, kind, provider, at_stake FROM written WHERE inserted;

-- name: report_losses
-- The losses on orders placed in [$1, $2), by order.
-- $1: from (timestamptz), $2: to (timestamptz)
SELECT p.order_id, p.provider, p.kind, o.status, p.expected, p.charged, p.at_stake, p.found_at
FROM provider_losses p JOIN orders o ON o.id = p.order_id
WHERE o.created_at >= $1 AND o.created_at < $2
ORDER BY p.order_id, p.kind;

-- name: provider_loss_figures
-- Per provider, over the orders placed in [$1, $2): the refunds it owed us (settled Partial
-- and Canceled orders it has, with a rate and a charge to check), how many it honoured (no
-- unrefunded loss), and the amounts unrefunded and overcharged (its currency).
-- $1: from (timestamptz), $2: to (timestamptz)
WITH owed AS (
    SELECT o.provider, count(*) AS refunds_owed,
           count(*) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM provider_losses p WHERE p.order_id = o.id AND p.kind = 'unrefunded'
           )) AS refunds_honoured
    FROM orders o
    WHERE o.created_at >= $1 AND o.created_at < $2 AND o.dispatch_state = 'placed'
      AND o.settled_at IS NOT NULL AND o.status IN ('Partial', 'Canceled')
      AND o.cost IS NOT NULL AND o.upstream_rate IS NOT NULL
    GROUP BY o.provider
), lost AS (
    SELECT p.provider,
           sum(p.at_stake) FILTER (WHERE p.kind = 'unrefunded') AS unrefunded,
           sum(p.at_stake) FILTER (WHERE p.kind = 'overcharged') AS overcharged
    FROM provider_losses p JOIN orders o ON o.id = p.order_id
    WHERE o.created_at >= $1 AND o.created_at < $2
    GROUP BY p.provider
)
SELECT coalesce(owed.provider, lost.provider) AS provider,
       coalesce(owed.refunds_owed, 0) AS refunds_owed,
       coalesce(owed.refunds_honoured, 0) AS refunds_honoured,
       coalesce(lost.unrefunded, 0) AS unrefunded,
       coalesce(lost.overcharged, 0) AS overcharged
FROM owed FULL JOIN lost ON lost.provider = owed.provider
ORDER BY 1;

-- name: alert_provider_losses
-- What each provider kept beyond its rate, found over the last $2 hours.
-- $1: the configured providers (text[]), $2: hours
SELECT provider, array_agg(DISTINCT order_id ORDER BY order_id) AS orders,
       coalesce(sum(at_stake) FILTER (WHERE kind = 'unrefunded'), 0) AS unrefunded,
       coalesce(sum(at_stake) FILTER (WHERE kind = 'overcharged'), 0) AS overcharged
FROM provider_losses
WHERE provider = ANY($1::text[]) AND found_at > now() - make_interval(hours => $2)
GROUP BY provider
ORDER BY provider;

-- name: balance_readings
-- The provider balances read in [$1, $2), and each provider's last one before $1 (the first
-- day's opening balance), oldest first.
-- $1: from (timestamptz), $2: to (timestamptz)
SELECT provider, balance, currency, checked_at FROM (
    SELECT provider, balance, currency, checked_at FROM provider_balance_history
    WHERE checked_at >= $1 AND checked_at < $2
    UNION ALL
    (SELECT DISTINCT ON (provider) provider, balance, currency, checked_at
     FROM provider_balance_history WHERE checked_at < $1
     ORDER BY provider, checked_at DESC)
) readings
ORDER BY provider, checked_at;

-- name: spend_in_period
-- The orders a provider has that were placed or settled in ($2, $3]: what each costs at its
-- rate, and what each owes back, is provider_check's arithmetic.
-- $1: provider, $2: after (timestamptz), $3: until (timestamptz)
SELECT o.id, o.status, o.remains, o.upstream_rate, o.quantity * coalesce(o.runs, 1) AS units,
       coalesce(o.runs, 1) AS runs, coalesce(u.type, s.type) AS type,
       o.created_at > $2 AND o.created_at <= $3 AS placed_in,
       o.settled_at > $2 AND o.settled_at <= $3 AS settled_in
FROM orders o
JOIN services s ON s.id = o.service_id
LEFT JOIN upstream_services u ON u.provider = o.provider AND u.service_id = o.upstream_service
WHERE o.provider = $1 AND o.dispatch_state = 'placed'
  AND (o.created_at > $2 AND o.created_at <= $3 OR o.settled_at > $2 AND o.settled_at <= $3);
