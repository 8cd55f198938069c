-- The whole money model (ARCHITECTURE.md: the order state machine and its invariants).
-- Money is NUMERIC(20,5): five decimals, as the API answers.
-- Invariants the schema itself enforces: balance >= 0, 0 <= refunded <= charge,
-- one local order per (provider, upstream order), one open refill per order, one cancel per order.

CREATE TABLE customers (
    id                     bigserial PRIMARY KEY,
    name                   text NOT NULL UNIQUE CHECK (name <> ''),
    -- SHA-256 of a 256-bit random key: the key itself is shown once and never stored.
    api_key_hash           bytea NOT NULL UNIQUE,
    balance                numeric(20, 5) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    currency               char(3) NOT NULL DEFAULT 'USD',
    rate_limit_per_minute  integer CHECK (rate_limit_per_minute > 0),  -- NULL: the config default
    suspended              boolean NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- The local catalog: what customers see and buy. Filled from the config (and later upstream sync);
-- rows are disabled, never deleted, so old orders keep their service.
CREATE TABLE services (
    id               integer PRIMARY KEY CHECK (id > 0),
    name             text NOT NULL,
    type             text NOT NULL,
    category         text NOT NULL,
    rate             numeric(20, 5) NOT NULL CHECK (rate >= 0),
    min_quantity     integer NOT NULL CHECK (min_quantity > 0),
    max_quantity     integer NOT NULL CHECK (max_quantity >= min_quantity),
    refill           boolean NOT NULL DEFAULT false,
    cancel           boolean NOT NULL DEFAULT false,
    dripfeed         boolean NOT NULL DEFAULT false,
    enabled          boolean NOT NULL DEFAULT true,
    disabled_reason  text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Upstream candidates of a local service, tried in priority order (failover).
CREATE TABLE service_upstreams (
    service_id        integer NOT NULL REFERENCES services (id),
    priority          smallint NOT NULL CHECK (priority >= 0),
    provider          text NOT NULL,
    upstream_service  text NOT NULL,
    cost_rate         numeric(20, 5) CHECK (cost_rate >= 0),  -- in the provider's currency
    PRIMARY KEY (service_id, priority)
);

CREATE TABLE orders (
    id                 bigserial PRIMARY KEY,
    customer_id        bigint NOT NULL REFERENCES customers (id),
    service_id         integer NOT NULL REFERENCES services (id),
    link               text,
    quantity           integer NOT NULL CHECK (quantity > 0),
    runs               integer CHECK (runs > 0),
    run_interval       integer CHECK (run_interval > 0),
    fields             jsonb NOT NULL DEFAULT '{}',  -- the type's own fields, forwarded unchanged
    -- What the customer was charged, and how much of it went back. Customer-facing charge is the gap.
    charge             numeric(20, 5) NOT NULL CHECK (charge >= 0),
    refunded           numeric(20, 5) NOT NULL DEFAULT 0,
    currency           char(3) NOT NULL,
    -- Upstream side: which candidate took it, its order ID, and what it charged us.
    provider           text,
    upstream_service   text,
    upstream_order_id  text,
    cost               numeric(20, 5) CHECK (cost >= 0),
    cost_currency      char(3),
    status             text NOT NULL DEFAULT 'Pending' CHECK (status IN
                         ('Pending', 'Processing', 'In progress', 'Completed', 'Partial', 'Canceled')),
    remains            integer,
    start_count        bigint,
    -- queued: not sent yet; sending: a call is in flight; placed: upstream has it;
    -- uncertain: the outcome of a sent call is unknown (never re-sent automatically);
    -- refused: upstream said no and the order was refunded.
    dispatch_state     text NOT NULL DEFAULT 'queued' CHECK (dispatch_state IN
                         ('queued', 'sending', 'placed', 'uncertain', 'refused')),
    dispatch_attempts  integer NOT NULL DEFAULT 0,
    dispatch_after     timestamptz NOT NULL DEFAULT now(),
    dispatch_error     text,
    poll_errors        integer NOT NULL DEFAULT 0,
    last_polled_at     timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    settled_at         timestamptz,  -- set once the final status's money is settled
    CHECK (refunded >= 0 AND refunded <= charge),
    CHECK ((upstream_order_id IS NULL) OR (provider IS NOT NULL)),
    UNIQUE (provider, upstream_order_id)
);
CREATE INDEX orders_customer_idx ON orders (customer_id, id);
CREATE INDEX orders_dispatch_idx ON orders (dispatch_after) WHERE dispatch_state = 'queued';
CREATE INDEX orders_uncertain_idx ON orders (id) WHERE dispatch_state = 'uncertain';
CREATE INDEX orders_poll_idx ON orders (provider, last_polled_at NULLS FIRST)
    WHERE dispatch_state = 'placed' AND settled_at IS NULL;

-- Every balance change, with its reason. Invariant: customers.balance = sum(amount) per customer.
CREATE TABLE ledger (
    id           bigserial PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers (id),
    amount       numeric(20, 5) NOT NULL CHECK (amount <> 0),
    kind         text NOT NULL CHECK (kind IN ('topup', 'adjustment', 'charge', 'refund')),
    reason       text NOT NULL DEFAULT '',
    order_id     bigint REFERENCES orders (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IN ('charge', 'refund')) = (order_id IS NOT NULL)),
    CHECK (CASE kind WHEN 'charge' THEN amount < 0 WHEN 'adjustment' THEN true ELSE amount > 0 END)
);
CREATE INDEX ledger_customer_idx ON ledger (customer_id, id);
CREATE INDEX ledger_order_idx ON ledger (order_id) WHERE order_id IS NOT NULL;
-- An order is charged exactly once.
CREATE UNIQUE INDEX ledger_one_charge_per_order ON ledger (order_id) WHERE kind = 'charge';

CREATE TABLE refills (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id),
    customer_id         bigint NOT NULL REFERENCES customers (id),
    status              text NOT NULL DEFAULT 'Pending' CHECK (status IN
                          ('Pending', 'In progress', 'Completed', 'Rejected')),
    upstream_refill_id  text,
    dispatch_state      text NOT NULL DEFAULT 'queued' CHECK (dispatch_state IN
                          ('queued', 'sending', 'placed', 'uncertain', 'refused')),
    dispatch_error      text,
    last_polled_at      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refills_customer_idx ON refills (customer_id, id);
-- A refill request while another is still open for the same order is a duplicate.
CREATE UNIQUE INDEX refills_one_open_per_order ON refills (order_id)
    WHERE status IN ('Pending', 'In progress');

-- A cancel does not refund by itself: the refund follows the upstream's final status.
CREATE TABLE cancel_requests (
    id               bigserial PRIMARY KEY,
    order_id         bigint NOT NULL UNIQUE REFERENCES orders (id),
    customer_id      bigint NOT NULL REFERENCES customers (id),
    dispatch_state   text NOT NULL DEFAULT 'queued' CHECK (dispatch_state IN
                       ('queued', 'sending', 'placed', 'uncertain', 'refused')),
    upstream_answer  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Operator actions that are not money (suspend, key rotation, order resolution), for the record.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    action      text NOT NULL,
    subject     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
