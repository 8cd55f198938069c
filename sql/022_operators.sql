-- Operator accounts for the web console: a name, an Argon2 hash of the password (never the
-- password), a role, and whether it may still sign in. Created, changed and disabled by
-- `reseller operators`, each in the audit trail.
CREATE TABLE operators (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role          text NOT NULL CHECK (role IN ('admin', 'viewer')),
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
