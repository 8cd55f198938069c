-- Dispatch bookkeeping: which failover candidate an order is on, and retry timing for the
-- refill and cancel requests forwarded the same way.
ALTER TABLE orders ADD COLUMN dispatch_candidate smallint NOT NULL DEFAULT 0;
CREATE INDEX orders_sending_idx ON orders (updated_at) WHERE dispatch_state = 'sending';

ALTER TABLE refills ADD COLUMN dispatch_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE refills ADD COLUMN dispatch_after timestamptz NOT NULL DEFAULT now();
CREATE INDEX refills_dispatch_idx ON refills (dispatch_after) WHERE dispatch_state = 'queued';

ALTER TABLE cancel_requests ADD COLUMN dispatch_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE cancel_requests ADD COLUMN dispatch_after timestamptz NOT NULL DEFAULT now();
CREATE INDEX cancel_requests_dispatch_idx ON cancel_requests (dispatch_after)
    WHERE dispatch_state = 'queued';
