-- Price groups (pricing.groups in the config). A group's rate is checked against the service's
-- cost: the primary candidate's, in the base currency, written by every catalog rebuild
-- (NULL: not known, such as a static price before its first sync).
ALTER TABLE services ADD COLUMN cost numeric CHECK (cost >= 0);

-- The group a customer is priced by (NULL: none); a name from the config, not a foreign key:
-- a group removed from the config leaves its customers priced as in no group.
ALTER TABLE customers ADD COLUMN price_group text;

-- Servers cache customers by API key: a change of group must reach them like a suspension.
DROP TRIGGER customers_changed ON customers;
CREATE TRIGGER customers_changed
    AFTER INSERT OR DELETE OR UPDATE OF api_key_hash, suspended, rate_limit_per_minute, name,
        price_group
    ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_customers_changed();
