-- Alerts (reseller/alerts). Both tables are state, not history: every process reads the same,
-- and a restart carries on where the last one stopped.

-- Since when each provider has failed its balance checks without answering once (the balances
-- job writes it after every check): "provider down" is measured from here.
CREATE TABLE provider_health (
    provider       text PRIMARY KEY,
    failing_since  timestamptz,  -- NULL: it answered at its last check
    error          text          -- why its last check failed (the client's text: never a key)
);

-- What each destination was last told about each condition: one message per change of state,
-- and reminders counted from the last one, whichever process sends them.
CREATE TABLE alert_state (
    destination  text NOT NULL,              -- a digest of its settings, never its secret
    kind         text NOT NULL,              -- provider_down, orders_uncertain, ...
    subject      text NOT NULL DEFAULT '',   -- the provider; '' for the installation as a whole
    items        text[] NOT NULL DEFAULT '{}',  -- the orders or services it was told of
    text         text NOT NULL,              -- what it was told (repeated when it resolves)
    since        timestamptz NOT NULL,
    notified_at  timestamptz NOT NULL,       -- its last message about it
    PRIMARY KEY (destination, kind, subject)
);
