-- name: no_statement_timeout
-- For the rest of the transaction: catalog writers queue for the lock below (every process
-- rebuilds at its start), and the last in a long queue must wait, not fail its start.
SET LOCAL statement_timeout = 0;

-- name: lock_catalog
-- Serialises catalog writers (several processes syncing or applying the config).
-- $1: lock key
SELECT pg_advisory_xact_lock($1);

-- name: upsert_service
-- A change of cost alone updates the row too (price groups are checked against it).
-- $1: id, $2: name, $3: type, $4: category, $5: rate, $6: min, $7: max,
-- $8: refill, $9: cancel, $10: dripfeed, $11: cost in the base currency (NULL: not known),
-- $12: allow_overlap, $13: dripfeed_emulated
INSERT INTO services (id, name, type, category, rate, min_quantity, max_quantity,
                      refill, cancel, dripfeed, cost, allow_overlap, dripfeed_emulated, enabled,
                      disabled_reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true, NULL, now())
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, category = EXCLUDED.category,
    rate = EXCLUDED.rate, min_quantity = EXCLUDED.min_quantity,
    max_quantity = EXCLUDED.max_quantity, refill = EXCLUDED.refill,
    cancel = EXCLUDED.cancel, dripfeed = EXCLUDED.dripfeed, cost = EXCLUDED.cost,
    allow_overlap = EXCLUDED.allow_overlap, dripfeed_emulated = EXCLUDED.dripfeed_emulated,
    enabled = true, disabled_reason = NULL, updated_at = now()
WHERE (services.name, services.type, services.category, services.rate,
       services.min_quantity, services.max_quantity, services.refill, services.cancel,
       services.dripfeed, services.cost, services.allow_overlap, services.dripfeed_emulated,
       services.enabled)
   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.type, EXCLUDED.category, EXCLUDED.rate,
       EXCLUDED.min_quantity, EXCLUDED.max_quantity, EXCLUDED.refill, EXCLUDED.cancel,
       EXCLUDED.dripfeed, EXCLUDED.cost, EXCLUDED.allow_overlap, EXCLUDED.dripfeed_emulated,
       true);

-- name: disable_service
-- Keeps the row's last known name and price (old orders and reports refer to them).
-- $1: id, $2: reason, $3..$10: placeholder values for a service never seen before
INSERT INTO services (id, name, type, category, rate, min_quantity, max_quantity,
                      refill, cancel, dripfeed, enabled, disabled_reason)
VALUES ($1, $3, $4, $5, $6, $7, $8, $9, $10, false, false, $2)
ON CONFLICT (id) DO UPDATE SET enabled = false, disabled_reason = $2, updated_at = now()
WHERE services.enabled OR services.disabled_reason IS DISTINCT FROM $2;

-- name: delete_service_upstreams
-- $1: service ids (int[])
DELETE FROM service_upstreams WHERE service_id = ANY($1::int[]);

-- name: insert_service_upstream
-- $1: service id, $2: priority, $3: provider, $4: upstream service id, $5: cost rate
INSERT INTO service_upstreams (service_id, priority, provider, upstream_service, cost_rate)
VALUES ($1, $2, $3, $4, $5);

-- name: disable_services_except
-- Services no longer offered are disabled, never deleted: old orders keep their service.
-- $1: ids to keep (int[]), $2: reason
UPDATE services SET enabled = false, disabled_reason = $2, updated_at = now()
WHERE enabled AND id <> ALL($1::int[]);

-- name: enabled_services
SELECT id, name, type, category, rate, min_quantity, max_quantity, refill, cancel, dripfeed,
       cost, allow_overlap, dripfeed_emulated
FROM services
WHERE enabled
ORDER BY id;

-- name: catalog_version
-- Changes whenever a service row does: processes poll it to pick up another's sync.
SELECT coalesce(max(updated_at), 'epoch')::text || ':' || count(*)::text FROM services;

-- name: all_services
SELECT s.id, s.name, s.type, s.category, s.rate, s.min_quantity, s.max_quantity, s.enabled,
       s.disabled_reason, o.reason AS operator_reason, u.provider, u.upstream_service,
       u.cost_rate
FROM services s
LEFT JOIN service_overrides o ON o.service_id = s.id
LEFT JOIN service_upstreams u ON u.service_id = s.id AND u.priority = (
    SELECT min(priority) FROM service_upstreams x
    WHERE x.service_id = s.id AND x.cost_rate IS NOT NULL)
ORDER BY s.id;

-- name: offered_services
SELECT provider, service_id, name, type, category, rate, min_quantity, max_quantity,
       refill, cancel, dripfeed
FROM upstream_services
WHERE gone_at IS NULL;

-- name: import_ids
SELECT provider, upstream_service, local_id FROM service_imports;

-- name: insert_import_id
-- $1: provider, $2: upstream service, $3: local id
INSERT INTO service_imports (provider, upstream_service, local_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;

-- name: upsert_upstream_service
-- $1: provider, $2: service id, $3: name, $4: type, $5: category, $6: rate, $7: min, $8: max,
-- $9: refill, $10: cancel, $11: dripfeed
INSERT INTO upstream_services (provider, service_id, name, type, category, rate, min_quantity,
                               max_quantity, refill, cancel, dripfeed, seen_at, gone_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), NULL)
ON CONFLICT (provider, service_id) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, category = EXCLUDED.category,
    rate = EXCLUDED.rate, min_quantity = EXCLUDED.min_quantity,
    max_quantity = EXCLUDED.max_quantity, refill = EXCLUDED.refill, cancel = EXCLUDED.cancel,
    dripfeed = EXCLUDED.dripfeed, seen_at = now(), gone_at = NULL;

-- name: mark_upstream_gone
-- $1: provider, $2: service ids still offered (text[])
UPDATE upstream_services SET gone_at = now()
WHERE provider = $1 AND gone_at IS NULL AND service_id <> ALL($2::text[]);

-- name: count_enabled_services
SELECT count(*) FROM services WHERE enabled;

-- name: services_on_sale
-- What a rebuild compares its result with (read under the catalog lock).
SELECT id, rate FROM services WHERE enabled;

-- name: service_overrides
SELECT service_id, reason FROM service_overrides;

-- name: disable_by_operator
-- Off sale now (servers notice the row's updated_at); the override keeps it off at every rebuild.
-- No row: no such service. $1: service id, $2: disabled reason
WITH old AS (SELECT id, enabled, disabled_reason FROM services WHERE id = $1 FOR UPDATE)
UPDATE services s SET enabled = false, disabled_reason = $2, updated_at = now()
FROM old
WHERE s.id = old.id
RETURNING old.enabled, old.disabled_reason;

-- name: upsert_override
-- $1: service id, $2: the operator's reason
INSERT INTO service_overrides (service_id, reason) VALUES ($1, $2)
ON CONFLICT (service_id) DO UPDATE SET reason = EXCLUDED.reason, created_at = now();

-- name: delete_override
-- No row: the service had no override. $1: service id
DELETE FROM service_overrides WHERE service_id = $1 RETURNING reason;

-- name: service_exists
-- $1: service id
SELECT EXISTS (SELECT FROM services WHERE id = $1);
