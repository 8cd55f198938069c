-- What each provider offers, as last synced. Rates keep the provider's full precision.
CREATE TABLE upstream_services (
    provider      text NOT NULL,
    service_id    text NOT NULL,
    name          text NOT NULL,
    type          text NOT NULL,
    category      text NOT NULL,
    rate          numeric NOT NULL CHECK (rate >= 0),
    min_quantity  bigint NOT NULL,
    max_quantity  bigint NOT NULL,
    refill        boolean NOT NULL,
    cancel        boolean NOT NULL,
    dripfeed      boolean NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    gone_at       timestamptz,  -- set when a sync no longer finds it
    PRIMARY KEY (provider, service_id)
);

-- Local IDs given to services brought in by category imports: stable across syncs.
CREATE TABLE service_imports (
    provider          text NOT NULL,
    upstream_service  text NOT NULL,
    local_id          integer NOT NULL UNIQUE,
    PRIMARY KEY (provider, upstream_service)
);

-- Candidate costs are converted upstream rates: keep their full precision.
ALTER TABLE service_upstreams ALTER COLUMN cost_rate TYPE numeric;
