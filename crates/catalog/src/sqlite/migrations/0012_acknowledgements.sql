-- The acknowledgement (SEDA Acknowledgement) of each transfer: made at receipt by the
-- as@lae intake, when the manifest is read for a package.
CREATE TABLE acknowledgements (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    operation TEXT NOT NULL,
    xml TEXT NOT NULL,
    PRIMARY KEY (tenant, operation)
) STRICT;
INSERT INTO acknowledgements (tenant, operation, xml)
    SELECT tenant, operation, acknowledgement FROM intake_messages;
