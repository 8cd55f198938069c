-- name: record_provider_health
-- After each balance check. A failed check starts a failing streak unless one is running; an
-- answer (even a refusal) ends it.
-- $1: provider, $2: why the check failed (NULL: it answered)
INSERT INTO provider_health AS h (provider, failing_since, error)
VALUES ($1, CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, $2)
ON CONFLICT (provider) DO UPDATE SET
    failing_since = CASE WHEN $2::text IS NULL THEN NULL
                         ELSE coalesce(h.failing_since, now()) END,
    error = $2;

-- name: alert_clock
-- One clock for every process: reminders are timed by the database's.
SELECT now();

-- name: alert_provider_balances
-- $1: the configured providers (text[])
SELECT provider, balance, currency, low, paused FROM provider_balances
WHERE provider = ANY($1::text[]) AND (low OR paused)
ORDER BY provider;

-- name: alert_providers_down
-- $1: the configured providers (text[]), $2: minutes without an answer
SELECT provider, failing_since, error FROM provider_health
WHERE provider = ANY($1::text[]) AND failing_since <= now() - make_interval(mins => $2)
ORDER BY provider;

-- name: alert_uncertain_orders
-- Orders sent with an unknown outcome, and emulated drip-feed orders with such a run.
SELECT id FROM orders WHERE dispatch_state = 'uncertain'
UNION
SELECT order_id FROM order_runs WHERE dispatch_state = 'uncertain'
ORDER BY id;

-- name: alert_flagged_orders
-- The same orders as the reseller_flagged_orders gauge: not polled any more, money held.
SELECT id, poll_stopped FROM orders
WHERE poll_stopped IS NOT NULL AND settled_at IS NULL
ORDER BY id;

-- name: alert_frozen_orders
-- The same orders as the reseller_frozen_orders gauge: an answer outside the strict table.
SELECT id, frozen FROM orders
WHERE frozen IS NOT NULL AND settled_at IS NULL
ORDER BY id;

-- name: alert_services_off_sale
-- Off sale for a reason the operator did not choose (below cost, gone upstream, a currency
-- mismatch ...). Left out: the reasons in $1 (catalog.sync.EXPECTED_OFF_SALE), and the
-- services the operator disabled (`services disable`).
-- $1: expected reasons (text[])
SELECT id, name, disabled_reason FROM services
WHERE NOT enabled
  AND NOT (coalesce(disabled_reason, '') = ANY($1::text[]))
  AND id NOT IN (SELECT service_id FROM service_overrides)
ORDER BY id;

-- name: database_started
-- Changes whenever PostgreSQL restarts, whoever restarted it.
SELECT pg_postmaster_start_time();

-- name: alert_state
SELECT destination, kind, subject, items, text, since, notified_at FROM alert_state;

-- name: record_alert_state
-- $1: destination, $2: kind, $3: subject, $4: items (text[]), $5: text, $6: since,
-- $7: notified at
INSERT INTO alert_state (destination, kind, subject, items, text, since, notified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (destination, kind, subject) DO UPDATE SET
    items = EXCLUDED.items, text = EXCLUDED.text, since = EXCLUDED.since,
    notified_at = EXCLUDED.notified_at;

-- name: forget_alert_state
-- $1: destination, $2: kind, $3: subject
DELETE FROM alert_state WHERE destination = $1 AND kind = $2 AND subject = $3;

-- name: forget_alert_destinations
-- What destinations no longer configured were told: one added again starts afresh.
-- $1: the destinations configured (text[])
DELETE FROM alert_state WHERE destination <> ALL($1::text[]);

-- name: provider_states
-- Each provider's last balance read and whether its last check was answered (either may not
-- exist yet).
SELECT coalesce(b.provider, h.provider) AS provider, b.balance, b.currency, b.low, b.paused,
       b.checked_at, h.failing_since, h.error
FROM provider_balances b
FULL JOIN provider_health h ON h.provider = b.provider
ORDER BY 1;

-- name: provider_failures
-- Per provider, what went wrong since $1: sends it refused or that never got through (the next
-- candidate was tried, or the order refunded), and the orders it took since then that went
-- uncertain or whose polling was given up.
SELECT provider, sum(refused)::int AS refused, sum(uncertain)::int AS uncertain,
       sum(poll_stopped)::int AS poll_stopped
FROM (
    SELECT provider, count(*) AS refused, 0 AS uncertain, 0 AS poll_stopped
    FROM dispatch_refusals WHERE refused_at >= $1 GROUP BY provider
    UNION ALL
    SELECT provider, 0, count(*) FILTER (WHERE uncertain_at IS NOT NULL),
           count(*) FILTER (WHERE poll_stopped IS NOT NULL)
    FROM orders WHERE created_at >= $1 AND provider IS NOT NULL GROUP BY provider
) f
GROUP BY provider;
