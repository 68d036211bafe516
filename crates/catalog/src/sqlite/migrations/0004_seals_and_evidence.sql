-- Seals of the journal, and evidence records (RFC 4998) as trees linked to files and to the
-- trees that renew them.
CREATE TABLE journal_seals (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    merkle_root TEXT NOT NULL,
    previous TEXT NOT NULL,
    sealed TEXT NOT NULL,
    token BLOB NOT NULL,
    stamped_at TEXT NOT NULL,
    tsa TEXT NOT NULL,
    operation TEXT NOT NULL,
    PRIMARY KEY (tenant, last),
    CHECK (first <= last)
) STRICT;
CREATE TRIGGER journal_seals_no_update BEFORE UPDATE ON journal_seals
    BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;
CREATE TRIGGER journal_seals_no_delete BEFORE DELETE ON journal_seals
    BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;

CREATE TABLE evidence_trees (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'TIMESTAMP_RENEWAL', 'HASH_RENEWAL')),
    algorithm TEXT NOT NULL,
    leaves BLOB NOT NULL,
    token BLOB NOT NULL,
    stamped_at TEXT NOT NULL,
    certificate_until TEXT NOT NULL,
    tsa TEXT NOT NULL,
    builtin INTEGER NOT NULL,
    operation TEXT NOT NULL,
    current INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX evidence_trees_current ON evidence_trees(tenant) WHERE current = 1;

CREATE TABLE evidence_object_leaves (
    tenant TEXT NOT NULL,
    object TEXT NOT NULL,
    chain INTEGER NOT NULL,
    tree TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant, object, chain),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id)
) STRICT;

CREATE TABLE evidence_renewals (
    tenant TEXT NOT NULL,
    tree TEXT NOT NULL,
    renewed_by TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant, tree),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id),
    FOREIGN KEY (tenant, renewed_by) REFERENCES evidence_trees(tenant, id)
) STRICT;
