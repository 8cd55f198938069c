-- Servers cache API-key lookups; any change to who a key belongs to, or to a customer's access
-- (suspension, key, rate limit), tells them to forget the cache — whoever makes the change.
CREATE FUNCTION notify_customers_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('customers_changed', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_changed
    AFTER INSERT OR DELETE OR UPDATE OF api_key_hash, suspended, rate_limit_per_minute, name
    ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_customers_changed();
