-- Drip-feed emulation (issue 17): a service whose upstream has no drip-feed may still offer
-- it (`emulate_dripfeed: true` in the config). Such an order is placed once, charged for
-- runs × quantity, and sent upstream as `runs` plain orders of `quantity`, one per interval.
ALTER TABLE services ADD COLUMN dripfeed_emulated boolean NOT NULL DEFAULT false;

-- The order the customer sees: never dispatched itself (placed at `add`, no provider); its
-- status, remains and cost follow its runs, and it settles once they are all final.
ALTER TABLE orders ADD COLUMN drip_emulated boolean NOT NULL DEFAULT false;

-- One row per run: its own claim-before-send (queued → sending committed before the request
-- leaves), its own upstream order, polled and settled like an order. A run never sent because
-- the order was canceled is `refused` / `Canceled` with its whole quantity as remains.
CREATE TABLE order_runs (
    order_id           bigint NOT NULL REFERENCES orders (id),
    run                integer NOT NULL CHECK (run >= 1),
    quantity           integer NOT NULL CHECK (quantity > 0),
    due_at             timestamptz NOT NULL,
    candidate          smallint NOT NULL DEFAULT 0,  -- the service's upstream it is on
    dispatch_state     text NOT NULL DEFAULT 'queued' CHECK (dispatch_state IN
                         ('queued', 'sending', 'placed', 'uncertain', 'refused')),
    dispatch_attempts  integer NOT NULL DEFAULT 0,
    dispatch_error     text,
    provider           text,
    upstream_service   text,
    upstream_order_id  text,
    status             text NOT NULL DEFAULT 'Pending' CHECK (status IN
                         ('Pending', 'Processing', 'In progress', 'Completed', 'Partial', 'Canceled')),
    remains            integer CHECK (remains >= 0 AND remains <= quantity),
    start_count        bigint,
    cost               numeric(20, 5) CHECK (cost >= 0),
    final              boolean NOT NULL DEFAULT false,  -- its status and remains are settled
    last_polled_at     timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, run),
    UNIQUE (provider, upstream_order_id)
);
CREATE INDEX order_runs_due_idx ON order_runs (due_at) WHERE dispatch_state = 'queued';
CREATE INDEX order_runs_sending_idx ON order_runs (updated_at) WHERE dispatch_state = 'sending';
CREATE INDEX order_runs_poll_idx ON order_runs (provider, order_id, run)
    WHERE dispatch_state = 'placed' AND NOT final;
