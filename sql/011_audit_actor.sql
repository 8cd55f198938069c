-- Every operator action records who did it and why. Rows from before have no actor: 'unknown'.
ALTER TABLE audit_log ADD COLUMN actor text NOT NULL DEFAULT 'unknown';
ALTER TABLE audit_log ALTER COLUMN actor DROP DEFAULT;
ALTER TABLE audit_log ADD COLUMN reason text;
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_subject ON audit_log (subject);
