-- Eliminations: the proposal (its operation is its identifier), each step taken, every unit
-- with where it stands, and what remains of each destroyed unit forever.
CREATE TABLE eliminations (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('proposed', 'agreed', 'agreement_refused',
        'visa_granted', 'visa_partly_granted', 'visa_refused', 'withdrawn', 'executed')),
    at TEXT NOT NULL,
    seda_version TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    steps TEXT NOT NULL,
    totals TEXT NOT NULL,
    -- The blobs an execution still has to remove from the offers (JSON), NULL when none.
    purge TEXT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, id) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX eliminations_purge ON eliminations(tenant) WHERE purge IS NOT NULL;

CREATE TABLE elimination_units (
    tenant TEXT NOT NULL,
    elimination TEXT NOT NULL,
    unit TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'excluded', 'visa_excepted', 'dropped', 'destroyed')),
    reason TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (tenant, elimination, unit),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
) STRICT;
CREATE INDEX elimination_units_unit ON elimination_units(tenant, unit) WHERE status = 'proposed';

CREATE TABLE tombstones (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    elimination TEXT NOT NULL,
    destroyed_at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (tenant, unit),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
) STRICT;
CREATE TRIGGER tombstones_no_update BEFORE UPDATE ON tombstones
BEGIN SELECT RAISE(ABORT, 'tombstones are kept as written'); END;
CREATE TRIGGER tombstones_no_delete BEFORE DELETE ON tombstones
BEGIN SELECT RAISE(ABORT, 'tombstones are kept as written'); END;

-- The files of each destroyed unit, to answer for a destroyed object with its unit's
-- tombstone.
CREATE TABLE tombstone_objects (
    tenant TEXT NOT NULL,
    object TEXT NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (tenant, object),
    FOREIGN KEY (tenant, unit) REFERENCES tombstones(tenant, unit)
) STRICT;

-- Objects by group, groups by unit's link: a unit's files are found without reading every
-- object of the tenant (which a unit's page, and each unit an elimination reads or deletes,
-- did before).
CREATE INDEX objects_group ON objects(tenant, object_group);
CREATE INDEX unit_object_groups_group ON unit_object_groups(tenant, object_group, unit);
-- Children by parent, covering: without statistics SQLite prefers a covering index on the
-- tenant alone (the primary key) to a narrower one that is not, and read every link of the
-- tenant for each unit's children (13 s for the descendants of 10,000 units).
DROP INDEX unit_parents_parent;
CREATE INDEX unit_parents_parent ON unit_parents(tenant, parent, unit);
