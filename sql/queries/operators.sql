-- name: insert_operator
-- $1: name, $2: password hash, $3: role
INSERT INTO operators (name, password_hash, role) VALUES ($1, $2, $3)
RETURNING id, name, role, disabled_at, created_at;

-- name: list_operators
SELECT id, name, role, disabled_at, created_at FROM operators ORDER BY name;

-- name: operator_for_sign_in
-- $1: name
SELECT id, name, role, disabled_at, created_at, password_hash FROM operators WHERE name = $1;

-- name: set_operator_password
-- $1: name, $2: password hash; no row: no such operator
UPDATE operators SET password_hash = $2, updated_at = now() WHERE name = $1 RETURNING id;

-- name: disable_operator
-- $1: name; no row: no such operator (disabling twice keeps the first time)
UPDATE operators SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
WHERE name = $1
RETURNING disabled_at;

-- name: operator_by_id
-- $1: id
SELECT id, name, role, disabled_at, created_at FROM operators WHERE id = $1;

-- name: console_order_counts
-- What the dashboard shows needs the operator: orders open, uncertain, waiting for their link,
-- frozen on an answer, flagged (no longer polled), each with its money held.
SELECT count(*) FILTER (WHERE settled_at IS NULL AND dispatch_state <> 'refused') AS open,
       count(*) FILTER (WHERE dispatch_state = 'uncertain') AS uncertain,
       count(*) FILTER (WHERE dispatch_state = 'queued' AND waiting_since IS NOT NULL) AS waiting,
       count(*) FILTER (WHERE frozen IS NOT NULL AND settled_at IS NULL) AS frozen,
       count(*) FILTER (WHERE poll_stopped IS NOT NULL AND settled_at IS NULL) AS flagged
FROM orders
WHERE settled_at IS NULL;

-- name: console_orders_by_status
-- $1: since (timestamptz)
SELECT status, count(*) AS orders FROM orders WHERE created_at >= $1
GROUP BY status ORDER BY orders DESC, status;

-- name: console_recently_off_sale
-- A disabled service's row changes when it is taken off sale (or its reason changes), never
-- while it stays off: updated_at says when. $1: since (timestamptz)
SELECT id, name, disabled_reason, updated_at FROM services
WHERE NOT enabled AND updated_at >= $1
ORDER BY updated_at DESC, id
LIMIT 20;
