-- name: last_upstream_ids
-- The highest numeric order and refill IDs a provider has answered (NULL: none yet).
-- $1: provider
SELECT (SELECT max(upstream_order_id::bigint) FROM orders
        WHERE provider = $1 AND upstream_order_id ~ '^[0-9]{1,18}$') AS order_id,
       (SELECT max(r.upstream_refill_id::bigint)
        FROM refills r JOIN orders o ON o.id = r.order_id
        WHERE o.provider = $1 AND r.upstream_refill_id ~ '^[0-9]{1,18}$') AS refill_id;
