-- Searches by dates reach a unit by its last known day: an index on that expression (the
-- one the search writes) lets `from` start where the matches are.
CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date));
