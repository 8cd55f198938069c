-- name: plan_for_these_filters
-- The first statement of a transaction that searches with optional filters (`$1 IS NULL OR
-- …`): each statement gets a plan made for the values at hand. The generic plan PostgreSQL may
-- settle on after a few calls of one prepared statement cannot tell an unfiltered page (the
-- newest ids, through the primary key) from a filtered one, and reads the whole table for both.
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: list_orders
-- Newest first, by keyset on the id (the unfiltered first page reads the primary key's last
-- rows). Filters are optional (NULL: any). Flagged: polling stopped on it, or frozen (an
-- answer outside the strict table, shown as sent), its money still held.
-- $1: dispatch state, $2: status, $3: customer name, $4: provider, $5: limit, $6: flagged only,
-- $7: only ids below this one (the next page), $8: only orders waiting for their link,
-- $9: service id, $10: the link's key (`orders.links.link_key`: the same target however the
-- link is written), $11: $12: created from this day to that one
-- (dates, UTC)
SELECT o.id, c.name AS customer, o.service_id, o.status, o.dispatch_state, o.provider,
       o.upstream_order_id, o.charge, o.refunded, o.currency, o.quantity, o.created_at, o.link,
       coalesce(o.poll_stopped, 'frozen: ' || o.frozen || '; answer ' || o.frozen_answer::text,
                o.dispatch_error) AS note
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE ($1::text IS NULL OR o.dispatch_state = $1)
  AND ($2::text IS NULL OR o.status = $2)
  AND ($3::text IS NULL OR o.customer_id = (SELECT id FROM customers WHERE name = $3))
  AND ($4::text IS NULL OR o.provider = $4)
  AND (NOT $6 OR ((o.poll_stopped IS NOT NULL OR o.frozen IS NOT NULL)
                   AND o.settled_at IS NULL))
  AND ($7::bigint IS NULL OR o.id < $7)
  AND (NOT $8 OR (o.dispatch_state = 'queued' AND o.waiting_since IS NOT NULL))
  AND ($9::bigint IS NULL OR o.service_id = $9)
  AND ($10::text IS NULL OR o.link_key = $10)
  AND ($11::date IS NULL OR o.created_at >= $11::date::timestamp AT TIME ZONE 'UTC')
  AND ($12::date IS NULL OR o.created_at < ($12::date + 1)::timestamp AT TIME ZONE 'UTC')
ORDER BY o.id DESC
LIMIT $5;

-- name: show_order
-- $1: order id
SELECT o.*, c.name AS customer, s.name AS service_name
FROM orders o JOIN customers c ON c.id = o.customer_id JOIN services s ON s.id = o.service_id
WHERE o.id = $1;

-- name: order_ledger
-- $1: order id
SELECT kind, amount, reason, created_at FROM ledger WHERE order_id = $1 ORDER BY id;

-- name: read_only_snapshot
-- The first statement of a transaction that reads several things which must agree (an order,
-- its ledger, its refills): every statement after it sees the same moment.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: order_refills
-- Through the customer's index: refills has no index on order_id alone.
-- $1: order id, $2: its customer id
SELECT id, status, dispatch_state, upstream_refill_id, dispatch_attempts, dispatch_error,
       created_at
FROM refills
WHERE customer_id = $2 AND order_id = $1
ORDER BY id;

-- name: order_cancels
-- $1: order id (one cancel request at most)
SELECT id, dispatch_state, upstream_answer, dispatch_attempts, created_at
FROM cancel_requests
WHERE order_id = $1;

-- name: link_facts
-- What an upstream order's status is checked against before it is linked to an uncertain
-- order: the order's units, its upstream service's rate and type as last synced (in the
-- provider's currency, the currency of the status `charge`; kept when the service is gone),
-- and the local order that already has that upstream ID, if any.
-- $1: order id, $2: upstream order id
SELECT o.id, o.dispatch_state, o.provider, o.quantity, o.runs, u.rate AS upstream_rate,
       u.type AS upstream_type,
       (SELECT x.id FROM orders x
        WHERE x.provider = o.provider AND x.upstream_order_id = $2 AND x.id <> o.id) AS linked_to
FROM orders o
LEFT JOIN upstream_services u ON u.provider = o.provider AND u.service_id = o.upstream_service
WHERE o.id = $1;

-- name: list_uncertain_refills
-- Refills whose upstream outcome is unknown, for the operator to resolve.
-- $1: customer name, $2: provider, $3: limit (NULL filters: any)
SELECT r.id, r.order_id, c.name AS customer, o.service_id, r.status, r.dispatch_state,
       o.provider, o.upstream_order_id, r.dispatch_error AS note
FROM refills r JOIN orders o ON o.id = r.order_id JOIN customers c ON c.id = r.customer_id
WHERE r.dispatch_state = 'uncertain'
  AND ($1::text IS NULL OR c.name = $1)
  AND ($2::text IS NULL OR o.provider = $2)
ORDER BY r.id DESC
LIMIT $3;

-- name: refill_link_facts
-- $1: refill id, $2: upstream refill id
SELECT r.id, r.dispatch_state, o.provider,
       (SELECT x.id FROM refills x JOIN orders xo ON xo.id = x.order_id
        WHERE xo.provider = o.provider AND x.upstream_refill_id = $2 AND x.id <> r.id
        ORDER BY x.id LIMIT 1) AS linked_to
FROM refills r JOIN orders o ON o.id = r.order_id
WHERE r.id = $1;

-- name: link_uncertain_refill
-- The provider has it: from now on the refill job polls it.
-- $1: refill id, $2: upstream refill id, $3: its status as the provider answered it
UPDATE refills SET dispatch_state = 'placed', upstream_refill_id = $2, status = $3,
                   dispatch_error = NULL, updated_at = now()
WHERE id = $1 AND dispatch_state = 'uncertain'
RETURNING id;

-- name: reject_uncertain_refill
-- The provider does not have it: closed, so the customer may ask for another.
-- $1: refill id
UPDATE refills SET dispatch_state = 'refused', status = 'Rejected',
                   dispatch_error = 'resolved by operator: not placed', updated_at = now()
WHERE id = $1 AND dispatch_state = 'uncertain'
RETURNING id;

-- name: list_uncertain_runs
-- Runs of emulated drip-feed orders whose upstream outcome is unknown: their order cannot
-- settle, its money held, until the operator knows what the provider has.
-- $1: customer name, $2: provider, $3: limit (NULL filters: any)
SELECT r.order_id, r.run, c.name AS customer, o.service_id, r.status, r.dispatch_state,
       r.provider, r.upstream_order_id, r.dispatch_error AS note
FROM order_runs r JOIN orders o ON o.id = r.order_id JOIN customers c ON c.id = o.customer_id
WHERE r.dispatch_state = 'uncertain'
  AND ($1::text IS NULL OR c.name = $1)
  AND ($2::text IS NULL OR r.provider = $2)
ORDER BY r.order_id DESC, r.run
LIMIT $3;
