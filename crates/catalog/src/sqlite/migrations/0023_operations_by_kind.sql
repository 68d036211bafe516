-- The web application lists a tenant's transfers newest first, all of them or one
-- account's (issue 19): pages read from these indexes, whatever the tenant's history.
CREATE INDEX operations_by_kind ON operations(tenant, kind, started_at, id);
CREATE INDEX operations_by_agent ON operations(tenant, agent, kind, started_at, id);
