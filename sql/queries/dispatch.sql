-- name: due_orders
-- Orders waiting to be sent: due, or waiting for an order of ours that is now final. Read
-- without locks: the claim decides who sends.
-- $1: limit
(SELECT id FROM orders
 WHERE dispatch_state = 'queued' AND dispatch_after <= now()
 ORDER BY id
 LIMIT $1)
UNION
(SELECT w.id FROM orders w JOIN orders b ON b.id = w.waiting_for
 WHERE w.waiting_for IS NOT NULL AND w.dispatch_state = 'queued' AND b.settled_at IS NOT NULL
 LIMIT $1)
ORDER BY id
LIMIT $1;

-- name: order_for_dispatch
-- The order with what it was paid (in the base currency: charge × currency_rate), its
-- service's type, and the candidate it is on (if any is left) with its cost: the
-- dispatch_candidate-th of its route (routing/assign.py), or of priority order without one.
-- Its link key only when its service's orders must not overlap on one link.
-- $1: order id
SELECT o.id, o.link, o.quantity, o.runs, o.run_interval, o.fields, o.dispatch_state,
       o.dispatch_attempts, o.dispatch_candidate, o.dispatch_error, o.charge, o.currency_rate,
       o.created_at, CASE WHEN s.allow_overlap THEN NULL ELSE o.link_key END AS link_key,
       s.type, u.provider, u.upstream_service, u.cost_rate
FROM orders o
JOIN services s ON s.id = o.service_id
LEFT JOIN service_upstreams u ON u.service_id = o.service_id
    AND u.priority = CASE WHEN o.route IS NULL THEN o.dispatch_candidate
                          ELSE o.route[o.dispatch_candidate + 1] END
WHERE o.id = $1;

-- name: uncertain_twins
-- Uncertain orders a duplicate-link refusal may be naming.
-- $1: provider, $2: upstream service, $3: link
SELECT id FROM orders
WHERE dispatch_state = 'uncertain' AND provider = $1 AND upstream_service = $2 AND link = $3;

-- name: due_refills
-- $1: limit
SELECT r.id FROM refills r
WHERE r.dispatch_state = 'queued' AND r.dispatch_after <= now()
ORDER BY r.id LIMIT $1;

-- name: claim_refill
-- $1: refill id
UPDATE refills r SET dispatch_state = 'sending', dispatch_attempts = r.dispatch_attempts + 1,
                     updated_at = now()
FROM orders o
WHERE r.id = (SELECT id FROM refills WHERE id = $1 AND dispatch_state = 'queued'
              FOR UPDATE SKIP LOCKED)
  AND o.id = r.order_id
RETURNING r.id, r.dispatch_attempts, o.provider, o.upstream_order_id;

-- name: refill_placed
-- An answer that comes after the sweep called the refill uncertain still settles it.
-- $1: refill id, $2: upstream refill id
UPDATE refills SET dispatch_state = 'placed', upstream_refill_id = $2, dispatch_error = NULL,
                   updated_at = now()
WHERE id = $1 AND dispatch_state IN ('sending', 'uncertain');

-- name: refill_rejected
-- $1: refill id, $2: why
UPDATE refills SET dispatch_state = 'refused', status = 'Rejected', dispatch_error = $2,
                   updated_at = now()
WHERE id = $1 AND dispatch_state IN ('sending', 'uncertain');

-- name: refill_uncertain
-- Sent, outcome unknown: never re-sent automatically. It stays open (Pending), so the customer
-- cannot stack another refill on the order, until the operator resolves it.
-- $1: refill id, $2: why
UPDATE refills SET dispatch_state = 'uncertain', dispatch_error = $2, updated_at = now()
WHERE id = $1 AND dispatch_state = 'sending';

-- name: requeue_refill
-- Provably not sent: back to the queue.
-- $1: refill id, $2: seconds to wait, $3: why
UPDATE refills SET dispatch_state = 'queued', dispatch_error = $3, updated_at = now(),
                   dispatch_after = now() + make_interval(secs => $2)
WHERE id = $1 AND dispatch_state = 'sending';

-- name: due_cancels
-- $1: limit
SELECT id FROM cancel_requests
WHERE dispatch_state = 'queued' AND dispatch_after <= now()
ORDER BY id LIMIT $1;

-- name: claim_cancel
-- $1: cancel request id
UPDATE cancel_requests c SET dispatch_state = 'sending',
                             dispatch_attempts = c.dispatch_attempts + 1, updated_at = now()
FROM orders o
WHERE c.id = (SELECT id FROM cancel_requests WHERE id = $1 AND dispatch_state = 'queued'
              FOR UPDATE SKIP LOCKED)
  AND o.id = c.order_id
RETURNING c.id, c.order_id, c.dispatch_attempts, o.dispatch_state AS order_state, o.provider,
          o.upstream_order_id;

-- name: cancel_answered
-- $1: cancel request id, $2: dispatch state ('placed' accepted, 'refused'), $3: answer
UPDATE cancel_requests SET dispatch_state = $2, upstream_answer = $3, updated_at = now()
WHERE id = $1;

-- name: requeue_cancel
-- $1: cancel request id, $2: seconds to wait, $3: why
UPDATE cancel_requests SET dispatch_state = 'queued', upstream_answer = $3, updated_at = now(),
                           dispatch_after = now() + make_interval(secs => $2)
WHERE id = $1;

-- name: abandon_stale_refills
-- A refill in flight longer than any client timeout belongs to a process that died: it may
-- have reached the provider, and a second refill there is a second refill, not a refused
-- duplicate. Never re-sent; surfaced for the operator, like an `add`.
-- $1: seconds
UPDATE refills SET dispatch_state = 'uncertain',
                   dispatch_error = 'in flight when its process stopped', updated_at = now()
WHERE dispatch_state = 'sending' AND updated_at < now() - make_interval(secs => $1)
RETURNING id;

-- name: requeue_stale_cancels
-- A cancel sent twice is refused the second time, so one left in flight by a dead process
-- goes back to the queue.
-- $1: seconds
UPDATE cancel_requests SET dispatch_state = 'queued', updated_at = now()
WHERE dispatch_state = 'sending' AND updated_at < now() - make_interval(secs => $1);

-- name: cancel_answered_refused
-- $1: cancel request id, $2: why
UPDATE cancel_requests SET dispatch_state = 'refused', upstream_answer = $2, updated_at = now()
WHERE id = $1;
