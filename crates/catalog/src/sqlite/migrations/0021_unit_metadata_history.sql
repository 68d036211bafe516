-- Every correction of a unit's descriptive metadata after ingest: the difference field by
-- field (JSON), and the metadata before and after, whole, under which operation and by whom.
-- Never updated; deleted only with its unit (an elimination, a transfer out, a
-- restitution, a closure destroys every copy of what it held).
CREATE TABLE unit_metadata_history (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    operation TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    agent TEXT NOT NULL,
    changes TEXT NOT NULL,
    previous TEXT NOT NULL,
    current TEXT NOT NULL,
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX unit_metadata_history_unit ON unit_metadata_history(tenant, unit);
CREATE TRIGGER unit_metadata_history_no_update BEFORE UPDATE ON unit_metadata_history
BEGIN SELECT RAISE(ABORT, 'the history of metadata is append-only'); END;
CREATE TRIGGER unit_metadata_history_no_delete BEFORE DELETE ON unit_metadata_history
WHEN EXISTS (SELECT 1 FROM units WHERE tenant = OLD.tenant AND id = OLD.unit)
BEGIN SELECT RAISE(ABORT, 'the history of metadata goes only with its unit'); END;
