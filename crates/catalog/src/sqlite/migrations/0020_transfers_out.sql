-- Transfers out to the definitive archives, and restitutions to producers, go the way of eliminations (a selection, an
-- authority's answer, an execution in steps that leaves tombstones): an elimination row
-- gets its kind, and the states of a transfer out (sent, rejected, accepted,
-- partly_accepted). The table is rebuilt as migration 17 did, for its CHECK constraint.
CREATE TABLE eliminations_new (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'elimination' CHECK (kind IN ('elimination', 'transfer_out',
        'restitution', 'closure')),
    state TEXT NOT NULL CHECK (state IN ('proposed', 'agreed', 'agreement_refused',
        'visa_granted', 'visa_partly_granted', 'visa_refused', 'withdrawn', 'executing',
        'executed', 'sent', 'rejected', 'accepted', 'partly_accepted')),
    at TEXT NOT NULL,
    seda_version TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    steps TEXT NOT NULL,
    totals TEXT NOT NULL,
    execution TEXT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, id) REFERENCES operations(tenant, id)
) STRICT;
INSERT INTO eliminations_new (rowid, tenant, id, kind, state, at, seda_version, proposed_by,
        proposed_at, steps, totals, execution)
    SELECT rowid, tenant, id, 'elimination', state, at, seda_version, proposed_by, proposed_at,
        steps, totals, execution FROM eliminations;
DROP TABLE eliminations;
ALTER TABLE eliminations_new RENAME TO eliminations;
