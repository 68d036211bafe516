-- Deliveries (communication): the request, the units a derogation must cover, the steps,
-- and the package while it is kept (its blob lives in the offers under its operation).
CREATE TABLE deliveries (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('awaiting_authorization', 'refused', 'delivered', 'removed')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    request TEXT NOT NULL,
    restricted TEXT NOT NULL,
    steps TEXT NOT NULL,
    package TEXT,
    package_bytes INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    PRIMARY KEY (tenant, id)
) STRICT;

CREATE INDEX deliveries_by_requester ON deliveries (tenant, requested_by);
CREATE INDEX deliveries_to_remove ON deliveries (expires_at) WHERE state = 'delivered';
