-- Operator overrides of the catalog. The catalog is rebuilt from the config and the providers'
-- offers at every start, reload and sync, so a service the operator took off sale is kept here,
-- and every rebuild keeps it off sale until `reseller services enable` deletes its row.
CREATE TABLE service_overrides (
    service_id  integer PRIMARY KEY REFERENCES services (id),
    reason      text NOT NULL CHECK (reason <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);
