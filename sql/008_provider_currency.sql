-- The currency a provider names in its `balance` answer is kept as named, not cut to three
-- characters: a panel answering "USDT" must neither fail the check nor pass for "USD". A named
-- currency other than the configured one takes the provider's services off sale, and this
-- column is what the catalog is rebuilt from (after a restart too).
ALTER TABLE provider_balances ALTER COLUMN currency TYPE text;
