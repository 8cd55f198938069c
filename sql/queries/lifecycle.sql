-- Every statement that changes an order's state or money, grouped by transition; only
-- reseller/orders/lifecycle.py (and refunds.py, inside its transitions) runs them.

-- === On the way upstream (orders/lifecycle.py: claim, skip_candidate, defer, placed, requeued, uncertain, abandon_stale, refused, canceled_before_dispatch) ===

-- name: claim_order
-- Marks the order as in flight, committed before the request goes out: whatever happens
-- next, it is never sent twice. Only one process wins; a locked row is skipped, not waited on.
-- The upstream service's rate is kept with it: the most the order can cost us (strict.py),
-- and what its charge is checked against (provider_check.py).
-- $1: order id, $2: candidate index expected, $3: provider, $4: upstream service
UPDATE orders SET dispatch_state = 'sending', dispatch_attempts = dispatch_attempts + 1,
                  provider = $3, upstream_service = $4, waiting_since = NULL, waiting_for = NULL,
                  updated_at = now(),
                  upstream_rate = (SELECT rate FROM upstream_services
                                   WHERE provider = $3 AND service_id = $4)
WHERE id = (SELECT id FROM orders WHERE id = $1 AND dispatch_state = 'queued'
            AND dispatch_candidate = $2 FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: lock_link
-- Serialises claims of one link on one upstream service (until the claim commits), so two
-- orders for it can never both see the other as not active yet. The two-key form keeps these
-- apart from the single-key locks of `reseller.locks`.
-- $1: link key, $2: provider, $3: upstream service
SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2 || ' ' || $3));

-- name: active_order_on_link
-- The earliest other order holding the link on that upstream service: sent or being sent,
-- not final. An order no longer polled (too old, or flagged for the operator) holds nothing.
-- $1: order id, $2: link key, $3: provider, $4: upstream service
SELECT id FROM orders
WHERE link_key = $2 AND provider = $3 AND upstream_service = $4 AND id <> $1
  AND settled_at IS NULL AND poll_stopped IS NULL
  AND dispatch_state IN ('sending', 'placed', 'uncertain')
ORDER BY id
LIMIT 1;

-- name: wait_for_link
-- Not now: its link is busy there. Stays queued (Pending, its charge held, cancellable), looked
-- at again after $3 seconds, or as soon as order $2 (when known) is final.
-- $1: order id, $2: the order it waits for (NULL: not one of ours), $3: seconds, $4: why
UPDATE orders SET waiting_since = coalesce(waiting_since, now()), waiting_for = $2,
                  dispatch_after = now() + make_interval(secs => $3), dispatch_error = $4,
                  updated_at = now()
WHERE id = $1 AND dispatch_state = 'queued';

-- name: skip_candidate
-- The candidate would cost more than the order was paid: move on without sending.
-- $1: order id, $2: candidate index being skipped
UPDATE orders SET dispatch_candidate = $2 + 1, updated_at = now()
WHERE id = $1 AND dispatch_state = 'queued' AND dispatch_candidate = $2;

-- name: defer_order
-- Not now (its provider is paused): look again later, nothing claimed.
-- $1: order id, $2: seconds
UPDATE orders SET dispatch_after = now() + make_interval(secs => $2), updated_at = now()
WHERE id = $1 AND dispatch_state = 'queued';

-- name: mark_placed
-- $1: order id, $2: upstream order id
UPDATE orders SET dispatch_state = 'placed', upstream_order_id = $2, status = 'Processing',
                  dispatch_error = NULL, updated_at = now()
WHERE id = $1 AND dispatch_state IN ('sending', 'uncertain');

-- name: requeue_order
-- Back in the queue: after a failed connection (same candidate) or a refusal (next one).
-- $1: order id, $2: candidate index, $3: seconds to wait, $4: why
UPDATE orders SET dispatch_state = 'queued', dispatch_candidate = $2,
                  dispatch_after = now() + make_interval(secs => $3), dispatch_error = $4,
                  provider = NULL, upstream_service = NULL, upstream_rate = NULL,
                  updated_at = now()
WHERE id = $1 AND dispatch_state = 'sending';

-- name: mark_uncertain
-- $1: order id, $2: why
UPDATE orders SET dispatch_state = 'uncertain', dispatch_error = $2, updated_at = now()
WHERE id = $1 AND dispatch_state = 'sending';

-- name: abandon_stale_sending
-- A call in flight longer than any client timeout belongs to a process that died: its outcome
-- is unknown. Never re-sent; surfaced for the operator.
-- $1: seconds
UPDATE orders SET dispatch_state = 'uncertain',
                  dispatch_error = 'in flight when its process stopped', updated_at = now()
WHERE dispatch_state = 'sending' AND updated_at < now() - make_interval(secs => $1)
RETURNING id;

-- name: close_order
-- Final state after a refusal or a cancel before dispatch.
-- $1: order id, $2: status, $3: dispatch state, $4: why
UPDATE orders SET status = $2, dispatch_state = $3, dispatch_error = $4, settled_at = now(),
                  updated_at = now()
WHERE id = $1;

-- name: cancel_unsent_order
-- A cancel for an order still in the queue: it is never sent.
-- $1: order id
UPDATE orders SET dispatch_state = 'refused', status = 'Canceled',
                  dispatch_error = 'canceled before dispatch', settled_at = now(),
                  updated_at = now()
WHERE id = $1 AND dispatch_state = 'queued'
RETURNING id;

-- === With the provider (progressed, settle, frozen, poll_error, too_old_to_poll) ===

-- name: apply_progress
-- Progress of orders not final yet, in one statement for the whole batch.
-- $1: ids, $2: statuses, $3: remains, $4: start counts, $5: costs (upstream charge)
UPDATE orders o SET status = u.status,
                    remains = CASE WHEN u.remains BETWEEN 0 AND o.quantity * coalesce(o.runs, 1)
                                   THEN u.remains ELSE o.remains END,
                    start_count = coalesce(u.start_count, o.start_count),
                    cost = coalesce(u.cost, o.cost), poll_errors = 0, updated_at = now(),
                    frozen = NULL, frozen_answer = NULL
FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::numeric[])
     AS u(id, status, remains, start_count, cost)
WHERE o.id = u.id AND o.settled_at IS NULL;

-- name: lock_for_settlement
-- $1: order id
SELECT id, charge, refunded, quantity * coalesce(runs, 1) AS total_quantity, settled_at
FROM orders WHERE id = $1 FOR UPDATE;

-- name: settle_order
-- $1: order id, $2: final status, $3: remains, $4: start count, $5: cost
UPDATE orders SET status = $2, remains = coalesce($3, remains),
                  start_count = coalesce($4, start_count), cost = coalesce($5, cost),
                  settled_at = now(), updated_at = now(), frozen = NULL, frozen_answer = NULL
WHERE id = $1;

-- name: freeze_order
-- An answer outside the strict table: nothing settles on it and the order stays polled; why,
-- and the answer as the provider sent it, are kept for the operator. `newly`: it was not
-- frozen before (the join reads the row as it was before this statement). The charge it reports
-- is kept as our cost, as any answer's is: the provider check sees an overcharge it froze on.
-- $1: order id, $2: why, $3: the answer (jsonb), $4: the charge it reports (NULL: none)
UPDATE orders o SET frozen = $2, frozen_answer = $3, cost = coalesce($4, o.cost),
                    updated_at = now()
FROM orders before
WHERE o.id = $1 AND before.id = o.id AND o.settled_at IS NULL
RETURNING before.frozen IS NULL AS newly;

-- name: count_poll_error
-- An answer that cannot be used (the provider does not know the order, or a final status
-- whose numbers cannot be settled on); after $2 in a row the order is flagged, not polled.
-- $1: order id, $2: errors before flagging, $3: why
UPDATE orders SET poll_errors = poll_errors + 1, updated_at = now(),
                  poll_stopped = CASE WHEN poll_errors + 1 >= $2 THEN $3 END
WHERE id = $1
RETURNING poll_stopped;

-- name: stop_polling_old
-- $1: max age in days
UPDATE orders SET poll_stopped = 'too old to poll', updated_at = now()
WHERE dispatch_state = 'placed' AND settled_at IS NULL AND poll_stopped IS NULL
  AND created_at < now() - make_interval(days => $1)
RETURNING id;

-- === Decided by the operator (resolved_placed, resolved_not_placed, resolved_frozen) ===

-- name: link_uncertain
-- $1: order id, $2: upstream order id
UPDATE orders SET dispatch_state = 'placed', upstream_order_id = $2, status = 'Processing',
                  dispatch_error = NULL, updated_at = now()
WHERE id = $1 AND dispatch_state = 'uncertain'
RETURNING id;

-- name: uncertain_order
-- $1: order id
SELECT id FROM orders WHERE id = $1 AND dispatch_state = 'uncertain' FOR UPDATE;

-- name: lock_frozen
-- A frozen order for the operator to settle, with what the strict table checks.
-- $1: order id
SELECT id, charge, refunded, quantity * coalesce(runs, 1) AS total_quantity
FROM orders WHERE id = $1 AND frozen IS NOT NULL AND settled_at IS NULL FOR UPDATE;

-- === Refunds (orders/refunds.py refund_to: the gap to what is owed, under the order's row lock) ===

-- name: lock_order_money
-- $1: order id
SELECT id, customer_id, charge, refunded FROM orders WHERE id = $1 FOR UPDATE;

-- name: add_refund
-- $1: order id, $2: amount (> 0)
UPDATE orders SET refunded = refunded + $2, updated_at = now() WHERE id = $1;

-- name: credit_for_refund
-- $1: customer id, $2: amount, $3: order id, $4: reason
WITH moved AS (
    UPDATE customers SET balance = balance + $2 WHERE id = $1 RETURNING id
)
INSERT INTO ledger (customer_id, amount, kind, reason, order_id)
SELECT id, $2, 'refund', $4, $3 FROM moved;
