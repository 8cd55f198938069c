-- name: backup_facts
-- What `backup` and `restore` check first: the server's major version (which pg_dump or
-- pg_restore fits it), the tables in public (a restore target must have none), and the other
-- client sessions on this database (a running serve or worker holds some).
SELECT current_setting('server_version_num')::int / 10000 AS server_major,
       split_part(current_setting('server_version'), ' ', 1) AS server_version,
       ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'
             ORDER BY tablename) AS tables,
       (SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend') AS other_sessions;

-- name: drop_public_objects
-- `restore --force`: what a reseller database holds (tables with their sequences, indexes and
-- triggers, views, functions), dropped inside the restore's own transaction. Objects an
-- extension owns stay. Names are read (qualified) before anything is dropped: one an earlier
-- CASCADE took is skipped by IF EXISTS. Sent to psql as text, so it ends with a semicolon.
DO $$
DECLARE
    object record;
BEGIN
    FOR object IN
        SELECT format('public.%I', c.relname) AS name,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                              ELSE 'TABLE' END AS kind
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
        ORDER BY c.relkind = 'S'  -- sequences last: those a table owns go with it
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', object.kind, object.name);
    END LOOP;
    FOR object IN
        SELECT format('public.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
               AS name
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', object.name);
    END LOOP;
END
$$;
