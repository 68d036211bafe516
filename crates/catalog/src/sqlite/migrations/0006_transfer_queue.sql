-- Transfers received over HTTP and waiting for (or in) their ingest. The operation row is
-- made when the ingest starts; the queue row goes when it is done.
CREATE TABLE transfer_queue (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    operation TEXT NOT NULL,
    received_at TEXT NOT NULL,
    agent TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (tenant, operation)
) STRICT;
