-- A unit's own management rules as given (every category, FinalAction, PreventInheritance,
-- RefNonRuleId, holds, where each rule was given), as the JSON of
-- `carnac_model::rules::Management`. NULL for units ingested before it existed, until the
-- archive fills it from the transfer's manifest (`Archive::backfill_management`).
-- `unit_rules` stays the flat list of each unit's own rules and end dates, for queries.
ALTER TABLE units ADD COLUMN management TEXT;

-- Every change of a unit's management after ingest: what it was before and after, under
-- which operation. Never updated or deleted.
CREATE TABLE unit_management_history (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    operation TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    previous TEXT,
    current TEXT NOT NULL,
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX unit_management_history_unit ON unit_management_history(tenant, unit);
CREATE TRIGGER unit_management_history_no_update BEFORE UPDATE ON unit_management_history
BEGIN SELECT RAISE(ABORT, 'the history of rules is append-only'); END;
CREATE TRIGGER unit_management_history_no_delete BEFORE DELETE ON unit_management_history
BEGIN SELECT RAISE(ABORT, 'the history of rules is append-only'); END;
-- The units still to fill, found without reading the others (maintenance asks at every pass).
CREATE INDEX units_unfilled ON units(tenant, operation) WHERE management IS NULL;
