-- name: lock_catalog
-- Serialises catalog writers (several processes applying the config at start).
-- $1: lock key
SELECT pg_advisory_xact_lock($1);

-- name: upsert_service
-- $1: id, $2: name, $3: type, $4: category, $5: rate, $6: min, $7: max,
-- $8: refill, $9: cancel, $10: dripfeed
INSERT INTO services (id, name, type, category, rate, min_quantity, max_quantity,
                      refill, cancel, dripfeed, enabled, disabled_reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, NULL, now())
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, category = EXCLUDED.category,
    rate = EXCLUDED.rate, min_quantity = EXCLUDED.min_quantity,
    max_quantity = EXCLUDED.max_quantity, refill = EXCLUDED.refill,
    cancel = EXCLUDED.cancel, dripfeed = EXCLUDED.dripfeed,
    enabled = true, disabled_reason = NULL, updated_at = now();

-- name: upsert_service_upstream
-- $1: service id, $2: priority, $3: provider, $4: upstream service id
INSERT INTO service_upstreams (service_id, priority, provider, upstream_service)
VALUES ($1, $2, $3, $4)
ON CONFLICT (service_id, priority) DO UPDATE SET
    provider = EXCLUDED.provider, upstream_service = EXCLUDED.upstream_service;

-- name: delete_service_upstreams_after
-- $1: service id, $2: highest priority to keep
DELETE FROM service_upstreams WHERE service_id = $1 AND priority > $2;

-- name: disable_services_except
-- Services no longer offered are disabled, never deleted: old orders keep their service.
-- $1: ids to keep (int[]), $2: reason
UPDATE services SET enabled = false, disabled_reason = $2, updated_at = now()
WHERE enabled AND id <> ALL($1::int[]);

-- name: enabled_services
SELECT id, name, type, category, rate, min_quantity, max_quantity, refill, cancel, dripfeed
FROM services
WHERE enabled
ORDER BY id;
