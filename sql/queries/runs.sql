-- Drip-feed emulation: the runs of an emulated order (reseller/orders/drip.py writes them,
-- reseller/jobs/runs.py and run_polling.py drive them).

-- === Sending ===

-- name: due_runs
-- Runs whose time has come. A run waits until every earlier run of its order is final (in
-- order, never two at once on the link: they would underrun), unless its service allows
-- orders to overlap on one link.
-- Read without locks: the claim decides who sends.
-- $1: limit
SELECT r.order_id, r.run FROM order_runs r
JOIN orders o ON o.id = r.order_id
JOIN services s ON s.id = o.service_id
WHERE r.dispatch_state = 'queued' AND r.due_at <= now()
  AND (s.allow_overlap OR NOT EXISTS (
      SELECT 1 FROM order_runs p WHERE p.order_id = r.order_id AND p.run < r.run AND NOT p.final))
ORDER BY r.due_at, r.order_id, r.run
LIMIT $1;

-- name: run_for_dispatch
-- The run as dispatch needs it, shaped like `order_for_dispatch`: its share of the charge
-- (what it was paid) and the candidate it is on, with its cost.
-- $1: order id, $2: run
SELECT r.order_id, r.run, r.quantity, NULL::integer AS runs, r.candidate, r.dispatch_state,
       r.dispatch_attempts, r.dispatch_error, o.link, o.fields, o.charge / o.runs AS charge, o.currency_rate,
       s.type, u.provider, u.upstream_service, u.cost_rate
FROM order_runs r
JOIN orders o ON o.id = r.order_id
JOIN services s ON s.id = o.service_id
LEFT JOIN service_upstreams u ON u.service_id = o.service_id AND u.priority = r.candidate
WHERE r.order_id = $1 AND r.run = $2;

-- name: claim_run
-- queued → sending, committed before the request goes out: never sent twice. A locked run is
-- skipped, not waited on.
-- $1: order id, $2: run, $3: candidate expected, $4: provider, $5: upstream service
UPDATE order_runs SET dispatch_state = 'sending', dispatch_attempts = dispatch_attempts + 1,
                      provider = $4, upstream_service = $5, updated_at = now()
WHERE (order_id, run) = (SELECT order_id, run FROM order_runs
                         WHERE order_id = $1 AND run = $2 AND dispatch_state = 'queued'
                           AND candidate = $3
                         FOR UPDATE SKIP LOCKED)
RETURNING run;

-- name: requeue_run
-- Not sent (or refused by this candidate): queued again on candidate $4 after $5 seconds.
-- $1: order id, $2: run, $3: candidate expected, $4: candidate next, $5: seconds, $6: why
UPDATE order_runs SET dispatch_state = 'queued', candidate = $4, provider = NULL,
                      upstream_service = NULL, dispatch_error = $6, updated_at = now(),
                      due_at = greatest(due_at, now() + make_interval(secs => $5))
WHERE order_id = $1 AND run = $2 AND candidate = $3 AND dispatch_state IN ('queued', 'sending');

-- name: run_uncertain
-- Sent, outcome unknown: never re-sent automatically; its order cannot settle until it is
-- resolved.
-- $1: order id, $2: run, $3: why
UPDATE order_runs SET dispatch_state = 'uncertain', dispatch_error = $3, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state = 'sending';

-- name: abandon_stale_runs
-- A run in flight longer than any call lasts belongs to a process that died mid-call.
-- $1: seconds
UPDATE order_runs SET dispatch_state = 'uncertain', dispatch_error = 'abandoned in flight',
                      updated_at = now()
WHERE dispatch_state = 'sending' AND updated_at < now() - make_interval(secs => $1)
RETURNING order_id, run;

-- name: run_placed
-- $1: order id, $2: run, $3: upstream order id
UPDATE order_runs SET dispatch_state = 'placed', upstream_order_id = $3, status = 'Processing',
                      dispatch_error = NULL, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state IN ('sending', 'uncertain')
RETURNING run;

-- name: run_refused
-- No candidate takes it: the run is over, undelivered.
-- $1: order id, $2: run, $3: why
UPDATE order_runs SET dispatch_state = 'refused', status = 'Canceled', remains = quantity,
                      final = true, dispatch_error = $3, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state = 'queued';

-- === The order they make up ===

-- name: lock_drip_order
-- The order's row lock (every run transition that may move money takes it first), what it was
-- charged for, and its runs so far: how many are not final, and the remains of those that are.
-- $1: order id
SELECT o.charge, o.quantity * o.runs AS total_quantity, o.settled_at,
       (SELECT count(*) FROM order_runs r WHERE r.order_id = o.id AND NOT r.final) AS open_runs,
       (SELECT coalesce(sum(r.remains), 0) FROM order_runs r
        WHERE r.order_id = o.id AND r.final) AS final_remains
FROM orders o WHERE o.id = $1 AND o.drip_emulated
FOR UPDATE OF o;

-- name: aggregate_runs
-- The customer's view of an order still running: Pending until a run is placed, then In
-- progress; remains the sum of its runs' (a run not sent yet counts whole); cost the sum of
-- theirs; start count the first run's.
-- $1: order id
UPDATE orders o SET status = CASE WHEN a.placed > 0 THEN 'In progress' ELSE 'Pending' END,
                    remains = a.remains, cost = a.cost, start_count = a.start_count,
                    updated_at = now()
FROM (SELECT count(*) FILTER (WHERE dispatch_state = 'placed') AS placed,
             sum(coalesce(remains, quantity)) AS remains, sum(cost) AS cost,
             (array_agg(start_count ORDER BY run) FILTER (WHERE start_count IS NOT NULL))[1]
               AS start_count
      FROM order_runs WHERE order_id = $1) a
WHERE o.id = $1 AND o.settled_at IS NULL;

-- name: settle_drip_order
-- Every run is final: the order's final status and remains (the sum of its runs').
-- $1: order id, $2: status, $3: remains
UPDATE orders SET status = $2, remains = $3, settled_at = now(), updated_at = now()
WHERE id = $1 AND settled_at IS NULL;

-- name: stop_unsent_runs
-- A cancel: the runs not sent yet never will be; each is over with its whole quantity
-- undelivered. How many stopped.
-- $1: order id
WITH stopped AS (
    UPDATE order_runs SET dispatch_state = 'refused', status = 'Canceled', remains = quantity,
                          final = true, dispatch_error = 'canceled before dispatch',
                          updated_at = now()
    WHERE order_id = $1 AND dispatch_state = 'queued'
    RETURNING run
)
SELECT count(*) FROM stopped;

-- name: drip_cancel_target
-- An emulated order of this customer that a cancel may stop (cancel offered, not final, a run
-- still unsent), locked; `cancellable` false: it is emulated but there is nothing to stop.
-- No row: not an emulated order of this customer.
-- $1: customer id, $2: order id
SELECT s.cancel AND o.settled_at IS NULL
       AND EXISTS (SELECT 1 FROM order_runs r
                   WHERE r.order_id = o.id AND r.dispatch_state = 'queued') AS cancellable
FROM orders o JOIN services s ON s.id = o.service_id
WHERE o.id = $2 AND o.customer_id = $1 AND o.drip_emulated
FOR UPDATE OF o;

-- name: record_drip_cancel
-- The cancel request, answered here (never forwarded: the dispatcher takes queued ones only).
-- No row: one was already made.
-- $1: customer id, $2: order id, $3: answer
INSERT INTO cancel_requests (order_id, customer_id, dispatch_state, upstream_answer)
VALUES ($2, $1, 'placed', $3)
ON CONFLICT (order_id) DO NOTHING
RETURNING id;

-- === Polling ===

-- name: claim_run_poll_batch
-- Up to $3 placed runs of one provider, not final, not polled since the cutoff; stamping
-- last_polled_at is the claim, as for orders.
-- A CTE, as claim_poll_batch's page: claims at most $3.
-- $1: provider, $2: cutoff (timestamptz), $3: batch size
WITH page AS (
    SELECT order_id, run FROM order_runs
    WHERE provider = $1 AND dispatch_state = 'placed' AND NOT final
      AND (last_polled_at IS NULL OR last_polled_at < $2)
    ORDER BY order_id, run
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE order_runs r SET last_polled_at = now()
FROM page
WHERE (r.order_id, r.run) = (page.order_id, page.run)
RETURNING r.order_id, r.run, r.upstream_order_id, r.quantity;

-- name: run_answered
-- A status answer for a placed run: its progress, or its final status and remains (`final`).
-- $1: order id, $2: run, $3: status, $4: remains, $5: start count, $6: cost, $7: final
UPDATE order_runs SET status = $3, remains = coalesce($4, remains), start_count = coalesce($5, start_count),
                      cost = coalesce($6, cost), final = $7, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state = 'placed' AND NOT final
RETURNING run;

-- name: run_link_facts
-- What linking an uncertain run to an upstream order checks (orders/upstream_match.py): its
-- state and size, its upstream service's rate and type, and who already has that upstream ID.
-- $1: order id, $2: run, $3: upstream order id
SELECT r.dispatch_state, r.provider, r.quantity, NULL::integer AS runs,
       u.type AS upstream_type, u.rate AS upstream_rate,
       coalesce(
           (SELECT 'order ' || o.id FROM orders o
            WHERE o.provider = r.provider AND o.upstream_order_id = $3 LIMIT 1),
           (SELECT 'run ' || x.run || ' of order ' || x.order_id FROM order_runs x
            WHERE x.provider = r.provider AND x.upstream_order_id = $3
              AND NOT (x.order_id = $1 AND x.run = $2) LIMIT 1)
       ) AS linked_to
FROM order_runs r
LEFT JOIN upstream_services u ON u.provider = r.provider AND u.service_id = r.upstream_service
WHERE r.order_id = $1 AND r.run = $2;

-- name: run_not_sent
-- The operator found an uncertain run is not at the provider: over, undelivered.
-- $1: order id, $2: run, $3: why
UPDATE order_runs SET dispatch_state = 'refused', status = 'Canceled', remains = quantity,
                      final = true, dispatch_error = $3, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state = 'uncertain'
RETURNING run;

-- name: run_uncertain_placed
-- The operator linked an uncertain run to the upstream order the provider vouched for.
-- $1: order id, $2: run, $3: upstream order id
UPDATE order_runs SET dispatch_state = 'placed', upstream_order_id = $3, status = 'Processing',
                      dispatch_error = NULL, updated_at = now()
WHERE order_id = $1 AND run = $2 AND dispatch_state = 'uncertain'
RETURNING run;

-- name: order_runs_story
-- An emulated drip-feed order's runs, for its story (`orders show`, the console's order page).
-- $1: order id
SELECT order_id, run, quantity, due_at, dispatch_state, dispatch_attempts, dispatch_error,
       provider, upstream_order_id, status, remains, final
FROM order_runs WHERE order_id = $1
ORDER BY run;
