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

-- name: close_order
-- Final state after a refusal or a cancel before dispatch.
-- $1: order id, $2: status, $3: dispatch state, $4: why
UPDATE orders SET status = $2, dispatch_state = $3, dispatch_error = $4, settled_at = now(),
                  updated_at = now()
WHERE id = $1;
