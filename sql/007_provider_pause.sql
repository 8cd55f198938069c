-- A provider whose balance fell below its `pause_below` gets no new orders until it is topped
-- up: orders wait in the queue instead of collecting "not enough funds" refusals.
ALTER TABLE provider_balances ADD COLUMN paused boolean NOT NULL DEFAULT false;
