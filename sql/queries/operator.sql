-- name: list_orders
-- Filters are optional (NULL: any). Flagged: polling stopped on it, its money still held.
-- $1: dispatch state, $2: status, $3: customer name, $4: provider, $5: limit, $6: flagged only
SELECT o.id, c.name AS customer, o.service_id, o.status, o.dispatch_state, o.provider,
       o.upstream_order_id, o.charge, o.refunded, o.currency, o.quantity, o.created_at,
       coalesce(o.poll_stopped, o.dispatch_error) AS note
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE ($1::text IS NULL OR o.dispatch_state = $1)
  AND ($2::text IS NULL OR o.status = $2)
  AND ($3::text IS NULL OR c.name = $3)
  AND ($4::text IS NULL OR o.provider = $4)
  AND (NOT $6 OR (o.poll_stopped IS NOT NULL AND o.settled_at IS NULL))
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

-- name: link_uncertain
-- $1: order id, $2: upstream order id
UPDATE orders SET dispatch_state = 'placed', upstream_order_id = $2, status = 'Processing',
                  dispatch_error = NULL, updated_at = now()
WHERE id = $1 AND dispatch_state = 'uncertain'
RETURNING id;

-- name: uncertain_order
-- $1: order id
SELECT id FROM orders WHERE id = $1 AND dispatch_state = 'uncertain' FOR UPDATE;
