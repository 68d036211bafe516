-- Replies in chunks: the ATR of a transfer of 100,000 units weighs some 50 MB, which is
-- neither held in memory to be written nor to be read.
CREATE TABLE operation_replies (
    tenant TEXT NOT NULL,
    operation TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    chunk BLOB NOT NULL,
    PRIMARY KEY (tenant, operation, sequence),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
INSERT INTO operation_replies (tenant, operation, sequence, chunk)
    SELECT tenant, id, 0, CAST(reply AS BLOB) FROM operations WHERE reply IS NOT NULL;
ALTER TABLE operations DROP COLUMN reply;
