-- Orders by when they were placed, all of them: the report and the dashboard's 30 days, the
-- console's date filter, the quality window (whose index, of placed orders only, this covers).
CREATE INDEX orders_created_idx ON orders (created_at);
DROP INDEX orders_quality_idx;
-- Orders not settled yet: a few thousand among millions, counted on every dashboard.
CREATE INDEX orders_open_idx ON orders (id) WHERE settled_at IS NULL;
