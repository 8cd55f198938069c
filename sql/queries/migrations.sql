-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations
-- Serialises concurrent `migrate` runs (any process, any host); released with the session.
-- $1: lock key
SELECT pg_advisory_lock($1);

-- name: unlock_migrations
-- $1: lock key
SELECT pg_advisory_unlock($1);

-- name: applied_migrations
SELECT name FROM schema_migrations ORDER BY name;

-- name: record_migration
-- $1: migration file name
INSERT INTO schema_migrations (name) VALUES ($1);

-- name: open_orders_without_link_key
-- Orders still open from before link keys were kept (migration 017).
SELECT id, link FROM orders
WHERE settled_at IS NULL AND link IS NOT NULL AND link_key IS NULL;

-- name: set_link_key
-- $1: order id, $2: its link's key
UPDATE orders SET link_key = $2 WHERE id = $1;
