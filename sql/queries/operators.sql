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
