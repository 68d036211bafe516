-- The as@lae-compatible intake: how a queued transfer came, and the messages of that intake
-- by what their sender knows of them.
ALTER TABLE transfer_queue ADD COLUMN intake TEXT NOT NULL DEFAULT 'package';
CREATE TABLE intake_messages (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    origin TEXT NOT NULL,
    message_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    seda_version TEXT NOT NULL,
    acknowledgement TEXT NOT NULL,
    PRIMARY KEY (tenant, origin, message_id)
) STRICT;
