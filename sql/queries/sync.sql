-- name: poll_cutoff
-- Orders polled after this moment are not polled again in the pass that asks.
-- $1: min seconds between polls of one order
SELECT now() - make_interval(secs => $1);

-- name: claim_poll_batch
-- The next page of up to $3 placed, unsettled orders of one provider after ID $4 that were
-- not polled since the cutoff. Stamping last_polled_at is the claim: another poller (another
-- process) skips these rows (SKIP LOCKED) and, once committed, their fresh stamp. A pass walks
-- the IDs from 0, so what was polled longest ago (before the cutoff) is polled in every pass.
-- With each order, what the strict answer table checks its answer against (orders.strict).
-- The page is a CTE (with a locking clause: evaluated once). Under `id IN (SELECT … LIMIT $3
-- FOR UPDATE SKIP LOCKED)` a plan may run the subquery again (inner side of a nested loop),
-- each run past the rows the last one claimed, and claim more than $3: seen once in CI on
-- PostgreSQL 18 (a page of over 100 IDs, which no provider takes: 1 000 orders never settled).
-- $1: provider, $2: cutoff (timestamptz), $3: batch size, $4: after this order ID
WITH page AS (
    SELECT id FROM orders
    WHERE provider = $1 AND dispatch_state = 'placed' AND settled_at IS NULL
      AND poll_stopped IS NULL AND id > $4
      AND (last_polled_at IS NULL OR last_polled_at < $2)
    ORDER BY id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE orders o SET last_polled_at = now()
FROM page
WHERE o.id = page.id
RETURNING o.id, o.upstream_order_id, o.quantity * coalesce(o.runs, 1) AS total_quantity, o.runs,
          o.upstream_rate, o.frozen, (SELECT type FROM services s WHERE s.id = o.service_id) AS type;

-- name: claim_refill_poll_batch
-- A CTE, as claim_poll_batch's page: claims at most $3.
-- $1: provider, $2: cutoff (timestamptz), $3: batch size
WITH page AS (
    SELECT r.id FROM refills r JOIN orders o ON o.id = r.order_id
    WHERE o.provider = $1 AND r.dispatch_state = 'placed'
      AND r.status IN ('Pending', 'In progress')
      AND (r.last_polled_at IS NULL OR r.last_polled_at < $2)
    ORDER BY r.last_polled_at NULLS FIRST, r.id
    LIMIT $3
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE refills r SET last_polled_at = now()
FROM page
WHERE r.id = page.id
RETURNING r.id, r.upstream_refill_id;

-- name: apply_refill_statuses
-- $1: ids, $2: statuses
UPDATE refills r SET status = u.status, updated_at = now()
FROM unnest($1::bigint[], $2::text[]) AS u(id, status)
WHERE r.id = u.id AND r.status IS DISTINCT FROM u.status;

-- name: record_provider_balance
-- The latest, and every reading in the history the daily drift is measured on.
-- $1: provider, $2: balance, $3: currency, $4: low, $5: paused
WITH logged AS (
    INSERT INTO provider_balance_history (provider, balance, currency) VALUES ($1, $2, $3)
)
INSERT INTO provider_balances (provider, balance, currency, low, paused, checked_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (provider) DO UPDATE SET balance = EXCLUDED.balance, currency = EXCLUDED.currency,
                                     low = EXCLUDED.low, paused = EXCLUDED.paused,
                                     checked_at = now();

-- name: provider_currency
-- The currency the provider named at its last balance check (NULL: never checked).
-- $1: provider
SELECT currency FROM provider_balances WHERE provider = $1;

-- name: paused_providers
SELECT provider FROM provider_balances WHERE paused;

-- name: provider_balances
SELECT provider, balance, currency, low, checked_at FROM provider_balances ORDER BY provider;

-- name: try_job_lock
-- $1: lock key
SELECT pg_try_advisory_lock($1);

-- name: release_job_lock
-- $1: lock key
SELECT pg_advisory_unlock($1);
