-- name: orders_by_state
SELECT status, dispatch_state, count(*) AS n FROM orders GROUP BY status, dispatch_state;

-- name: refund_totals
SELECT count(*) AS n, coalesce(sum(amount), 0) AS total FROM ledger WHERE kind = 'refund';

-- name: metrics_provider_balances
SELECT provider, balance, currency, low, paused FROM provider_balances;

-- name: flagged_orders
-- Orders no longer polled whose money is still held: the operator must look at them.
SELECT count(*) FROM orders WHERE poll_stopped IS NOT NULL AND settled_at IS NULL;

-- name: waiting_orders
-- Orders held in the queue while their link has an active order upstream.
SELECT count(*) FROM orders WHERE dispatch_state = 'queued' AND waiting_since IS NOT NULL;
-- name: frozen_orders
-- Orders frozen on an answer outside the strict table, still polled, their money held.
SELECT count(*) FROM orders WHERE frozen IS NOT NULL AND settled_at IS NULL;

-- name: orders_with_uncertain_runs
-- Emulated drip-feed orders held by a run whose upstream outcome is unknown.
SELECT count(DISTINCT order_id) FROM order_runs WHERE dispatch_state = 'uncertain';
