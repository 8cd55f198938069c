-- name: insert_audit
-- $1: actor, $2: action, $3: subject, $4: reason, $5: detail (jsonb)
INSERT INTO audit_log (actor, action, subject, reason, detail) VALUES ($1, $2, $3, $4, $5);

-- name: audit_entries
-- Newest first (the primary key's order, so a page of the newest reads no more than it shows).
-- $1: from (inclusive), $2: to (exclusive), $3: subject (NULL: any), $4: actor (NULL: any),
-- $5: only entries older than this id (NULL: any), $6: at most (NULL: all)
SELECT id, created_at, actor, action, subject, reason, detail
FROM audit_log
WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR subject = $3)
  AND ($4::text IS NULL OR actor = $4) AND ($5::bigint IS NULL OR id < $5)
ORDER BY id DESC
LIMIT $6::int;
