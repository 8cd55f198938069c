-- Provider quality (routing/quality.py) and the routes built from it (routing/plan.py,
-- routing/assign.py).

-- name: refresh_quality
-- Every upstream service's figures over the orders created since $1, in one statement; a
-- service with no order in the window keeps no row.
-- $1: window start
WITH o AS (
    SELECT provider, upstream_service, status, dispatch_state, quantity, remains, cost,
           created_at, started_at, settled_at, uncertain_at, upstream_order_id
    FROM orders
    WHERE created_at >= $1 AND provider IS NOT NULL AND upstream_service IS NOT NULL
), settled AS (
    SELECT * FROM o
    WHERE settled_at IS NOT NULL AND upstream_order_id IS NOT NULL
      AND status IN ('Completed', 'Partial', 'Canceled')
), orders_figures AS (
    SELECT provider, upstream_service,
           count(*) FILTER (WHERE dispatch_state IN ('placed', 'uncertain')) AS answered,
           count(*) FILTER (WHERE uncertain_at IS NOT NULL) AS uncertain
    FROM o GROUP BY 1, 2
), settled_figures AS (
    SELECT provider, upstream_service,
           count(*) AS settled,
           count(*) FILTER (WHERE status = 'Completed') AS completed,
           count(*) FILTER (WHERE status = 'Partial') AS partial,
           count(*) FILTER (WHERE status = 'Canceled') AS canceled,
           sum(quantity) AS ordered_units,
           sum(CASE status WHEN 'Completed' THEN quantity
                           WHEN 'Partial' THEN greatest(quantity - coalesce(remains, 0), 0)
                           ELSE 0 END) AS delivered_units,
           coalesce(sum(cost), 0) AS cost,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))
               FILTER (WHERE started_at IS NOT NULL) AS start_p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))
               FILTER (WHERE started_at IS NOT NULL) AS start_p90,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM settled_at - created_at))
               FILTER (WHERE status <> 'Canceled') AS finish_p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM settled_at - created_at))
               FILTER (WHERE status <> 'Canceled') AS finish_p90
    FROM settled GROUP BY 1, 2
), refusal_figures AS (
    SELECT provider, upstream_service, count(*) AS refused
    FROM dispatch_refusals WHERE refused_at >= $1 GROUP BY 1, 2
), refill_figures AS (
    SELECT o.provider, o.upstream_service,
           count(*) FILTER (WHERE r.dispatch_state IN ('placed', 'refused')) AS refills,
           count(*) FILTER (WHERE r.dispatch_state = 'placed') AS accepted,
           count(*) FILTER (WHERE r.dispatch_state = 'placed' AND r.status = 'Completed')
               AS completed,
           count(*) FILTER (WHERE r.dispatch_state = 'placed'
                            AND r.status IN ('Completed', 'Rejected')) AS final
    FROM refills r JOIN orders o ON o.id = r.order_id
    WHERE r.created_at >= $1 AND o.provider IS NOT NULL
    GROUP BY 1, 2
), keys AS (
    SELECT provider, upstream_service FROM orders_figures
    UNION SELECT provider, upstream_service FROM refusal_figures
), stored AS (
    INSERT INTO provider_quality AS q (
        provider, upstream_service, sent, refused, uncertain, settled, completed, partial,
        canceled, ordered_units, delivered_units, cost, start_p50_seconds, start_p90_seconds,
        finish_p50_seconds, finish_p90_seconds, refills, refills_accepted, refills_completed,
        refills_final, refreshed_at)
    SELECT k.provider, k.upstream_service,
           coalesce(f.answered, 0) + coalesce(x.refused, 0), coalesce(x.refused, 0),
           coalesce(f.uncertain, 0), coalesce(s.settled, 0), coalesce(s.completed, 0),
           coalesce(s.partial, 0), coalesce(s.canceled, 0), coalesce(s.ordered_units, 0),
           coalesce(s.delivered_units, 0), coalesce(s.cost, 0), s.start_p50, s.start_p90,
           s.finish_p50, s.finish_p90, coalesce(r.refills, 0), coalesce(r.accepted, 0),
           coalesce(r.completed, 0), coalesce(r.final, 0), now()
    FROM keys k
    LEFT JOIN orders_figures f USING (provider, upstream_service)
    LEFT JOIN settled_figures s USING (provider, upstream_service)
    LEFT JOIN refusal_figures x USING (provider, upstream_service)
    LEFT JOIN refill_figures r USING (provider, upstream_service)
    ON CONFLICT (provider, upstream_service) DO UPDATE SET
        sent = EXCLUDED.sent, refused = EXCLUDED.refused, uncertain = EXCLUDED.uncertain,
        settled = EXCLUDED.settled, completed = EXCLUDED.completed, partial = EXCLUDED.partial,
        canceled = EXCLUDED.canceled, ordered_units = EXCLUDED.ordered_units,
        delivered_units = EXCLUDED.delivered_units, cost = EXCLUDED.cost,
        start_p50_seconds = EXCLUDED.start_p50_seconds,
        start_p90_seconds = EXCLUDED.start_p90_seconds,
        finish_p50_seconds = EXCLUDED.finish_p50_seconds,
        finish_p90_seconds = EXCLUDED.finish_p90_seconds, refills = EXCLUDED.refills,
        refills_accepted = EXCLUDED.refills_accepted,
        refills_completed = EXCLUDED.refills_completed, refills_final = EXCLUDED.refills_final,
        refreshed_at = EXCLUDED.refreshed_at
    RETURNING provider, upstream_service
)
DELETE FROM provider_quality q
WHERE NOT EXISTS (SELECT 1 FROM stored s
                  WHERE s.provider = q.provider AND s.upstream_service = q.upstream_service);

-- name: quality_figures
-- The stored figures, all or those of one local service's candidates.
-- $1: local service ID (NULL: all)
SELECT q.* FROM provider_quality q
WHERE $1::integer IS NULL OR EXISTS (
    SELECT 1 FROM service_upstreams u
    WHERE u.service_id = $1 AND u.provider = q.provider AND u.upstream_service = q.upstream_service)
ORDER BY q.provider, q.upstream_service;

-- name: routing_candidates
-- Every candidate of every service on sale, with its cost and the service's sell rate.
SELECT u.service_id, u.priority, u.provider, u.upstream_service, u.cost_rate, s.rate
FROM service_upstreams u JOIN services s ON s.id = u.service_id
WHERE s.enabled
ORDER BY u.service_id, u.priority;

-- name: current_routes
SELECT service_id, mode, route, explore, demoted, reason FROM service_routes;

-- name: clear_routes
DELETE FROM service_routes;

-- name: insert_route
-- $1: service ID, $2: mode, $3: route, $4: explore, $5: demoted, $6: reason
INSERT INTO service_routes (service_id, mode, route, explore, demoted, reason)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: route_inputs
-- What assigning an order its route needs: its route so far, the service's plan, and the
-- candidates the service has now.
-- $1: order id
SELECT o.route, o.dispatch_candidate, o.dispatch_state, r.route AS planned, r.explore,
       ARRAY(SELECT priority FROM service_upstreams u WHERE u.service_id = o.service_id
             ORDER BY priority) AS candidates
FROM orders o LEFT JOIN service_routes r ON r.service_id = o.service_id
WHERE o.id = $1;

-- name: assign_route
-- Only before its first candidate was tried: a route never changes under an order.
-- $1: order id, $2: route
UPDATE orders SET route = $2
WHERE id = $1 AND route IS NULL AND dispatch_state = 'queued' AND dispatch_candidate = 0;

-- name: chosen_candidates
-- Per service, the candidate its route tries first, and why.
SELECT r.service_id, r.mode, r.reason, u.provider, u.upstream_service
FROM service_routes r
LEFT JOIN service_upstreams u ON u.service_id = r.service_id AND u.priority = r.route[1];

-- name: alert_demoted_candidates
SELECT r.service_id, u.priority, u.provider, u.upstream_service
FROM service_routes r
JOIN service_upstreams u ON u.service_id = r.service_id AND u.priority = ANY (r.demoted)
ORDER BY r.service_id, u.priority;

-- name: routes_for_pricing
-- Each service's route: the catalog prices a service from the first candidate it sends to.
SELECT service_id, route FROM service_routes;
