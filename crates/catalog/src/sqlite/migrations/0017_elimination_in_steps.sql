-- An execution in steps: it begins (state `executing`, each unit to destroy `destroying` at
-- its place in the order), destroys its units a few hundred at a time, each step one short
-- transaction, and ends. The blobs still to remove from the offers are rows, added by each
-- step, removed once gone.
--
-- SQLite cannot change a CHECK constraint in place: the two tables are rebuilt as its manual
-- says (https://www.sqlite.org/lang_altertable.html#otheralter); the migration runner turns
-- foreign keys off around it and checks them before committing.
CREATE TABLE eliminations_new (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('proposed', 'agreed', 'agreement_refused',
        'visa_granted', 'visa_partly_granted', 'visa_refused', 'withdrawn', 'executing',
        'executed')),
    at TEXT NOT NULL,
    seda_version TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    steps TEXT NOT NULL,
    totals TEXT NOT NULL,
    -- The execution under way or done: {"operation", "agent", "started_at"} (JSON).
    execution TEXT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, id) REFERENCES operations(tenant, id)
) STRICT;
-- Rows keep their rowid: lists are in the order eliminations were proposed.
INSERT INTO eliminations_new (rowid, tenant, id, state, at, seda_version, proposed_by, proposed_at, steps, totals)
    SELECT rowid, tenant, id, state, at, seda_version, proposed_by, proposed_at, steps, totals FROM eliminations;

CREATE TABLE elimination_purges (
    tenant TEXT NOT NULL,
    elimination TEXT NOT NULL,
    -- The blob's batch (the ingest that stored it) and name (its object).
    batch TEXT NOT NULL,
    object TEXT NOT NULL,
    PRIMARY KEY (tenant, elimination, object),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
) STRICT;
INSERT INTO elimination_purges (tenant, elimination, batch, object)
    SELECT e.tenant, e.id, json_extract(p.value, '$.operation'), json_extract(p.value, '$.object')
    FROM eliminations e, json_each(e.purge) p WHERE e.purge IS NOT NULL;

DROP TABLE eliminations;
ALTER TABLE eliminations_new RENAME TO eliminations;

CREATE TABLE elimination_units_new (
    tenant TEXT NOT NULL,
    elimination TEXT NOT NULL,
    unit TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'excluded', 'visa_excepted', 'dropped',
        'destroying', 'destroyed')),
    reason TEXT,
    record TEXT NOT NULL,
    -- Its place in the execution's order (descendants before their ancestors).
    position INTEGER,
    PRIMARY KEY (tenant, elimination, unit),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
) STRICT;
INSERT INTO elimination_units_new (rowid, tenant, elimination, unit, status, reason, record)
    SELECT rowid, tenant, elimination, unit, status, reason, record FROM elimination_units;
DROP TABLE elimination_units;
ALTER TABLE elimination_units_new RENAME TO elimination_units;
CREATE INDEX elimination_units_unit ON elimination_units(tenant, unit)
    WHERE status IN ('proposed', 'destroying');
CREATE INDEX elimination_units_destroying ON elimination_units(tenant, elimination, position)
    WHERE status = 'destroying';

-- An execution's tombstones in the order written, for its certificate and notification.
CREATE INDEX tombstones_elimination ON tombstones(tenant, elimination);
