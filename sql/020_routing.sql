-- Provider quality and routing (issue 17): what each upstream service delivers, measured from
-- our own orders, and the order in which a local service's candidates are tried.

-- Marks the quality job needs and the order life cycle did not keep: when an order was first
-- seen started, and whether it ever went uncertain (resolving it clears the state, not this).
ALTER TABLE orders
    ADD COLUMN started_at timestamptz,
    ADD COLUMN uncertain_at timestamptz,
    -- Candidate priorities in the order dispatch tries them (dispatch_candidate indexes it,
    -- from 0); NULL: priority order, as before routing.
    ADD COLUMN route smallint[];
CREATE INDEX orders_quality_idx ON orders (created_at) WHERE provider IS NOT NULL;
CREATE INDEX refills_created_idx ON refills (created_at);  -- the window's refills, likewise

-- A candidate that refused an order (or could not be reached in dispatch.max_attempts) before
-- the next one was tried: the order row keeps only the candidate that took it.
CREATE TABLE dispatch_refusals (
    order_id          bigint NOT NULL REFERENCES orders (id),
    provider          text NOT NULL,
    upstream_service  text NOT NULL,
    refused_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispatch_refusals_at_idx ON dispatch_refusals (refused_at);

-- A trigger, so every path that moves an order (dispatch, polling, the operator) marks it.
CREATE FUNCTION orders_quality_marks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.started_at IS NULL AND NEW.status IN ('In progress', 'Completed', 'Partial')
       AND OLD.status IS DISTINCT FROM NEW.status THEN
        NEW.started_at := now();
    END IF;
    IF NEW.uncertain_at IS NULL AND NEW.dispatch_state = 'uncertain' THEN
        NEW.uncertain_at := now();
    END IF;
    IF OLD.dispatch_state = 'sending' AND OLD.provider IS NOT NULL
       AND (NEW.dispatch_state = 'refused'
            OR (NEW.dispatch_state = 'queued' AND NEW.dispatch_candidate > OLD.dispatch_candidate)) THEN
        INSERT INTO dispatch_refusals (order_id, provider, upstream_service)
        VALUES (OLD.id, OLD.provider, OLD.upstream_service);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_quality_marks BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_quality_marks();

-- Per upstream service, the counts and sums over the window (orders created in it), as the
-- quality job last computed them; the rates are derived from them (routing/quality.py).
CREATE TABLE provider_quality (
    provider            text NOT NULL,
    upstream_service    text NOT NULL,
    sent                integer NOT NULL,  -- claimed and answered: placed, uncertain or refused
    refused             integer NOT NULL,
    uncertain           integer NOT NULL,
    settled             integer NOT NULL,  -- placed orders with final money
    completed           integer NOT NULL,
    partial             integer NOT NULL,
    canceled            integer NOT NULL,
    ordered_units       bigint NOT NULL,   -- of the settled orders
    delivered_units     bigint NOT NULL,
    cost                numeric NOT NULL,  -- what the settled orders cost us
    start_p50_seconds   numeric,
    start_p90_seconds   numeric,
    finish_p50_seconds  numeric,
    finish_p90_seconds  numeric,
    refills             integer NOT NULL,  -- asked of it (placed or refused)
    refills_accepted    integer NOT NULL,
    refills_completed   integer NOT NULL,
    refills_final       integer NOT NULL,  -- accepted and ended Completed or Rejected
    refreshed_at        timestamptz NOT NULL,
    PRIMARY KEY (provider, upstream_service)
);

-- Per local service, the order its candidates are tried in, and why (routing/plan.py).
CREATE TABLE service_routes (
    service_id  integer PRIMARY KEY REFERENCES services (id),
    mode        text NOT NULL,
    route       smallint[] NOT NULL,            -- candidate priorities, first tried first
    explore     smallint,                       -- the candidate given every Nth order first
    demoted     smallint[] NOT NULL DEFAULT '{}',
    reason      text NOT NULL
);
