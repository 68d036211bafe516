CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE referentials (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    operation TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, version)
) STRICT;

CREATE TABLE operations (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('RUNNING', 'DONE')),
    status TEXT CHECK (status IN ('OK', 'WARNING', 'KO')),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    summary TEXT,
    reply TEXT,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX operations_running ON operations(state) WHERE state = 'RUNNING';

CREATE TABLE units (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description_level TEXT,
    start_date TEXT,
    end_date TEXT,
    originating_agency TEXT,
    metadata TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX units_operation ON units(tenant, operation);
CREATE INDEX units_title ON units(tenant, title);
CREATE INDEX units_dates ON units(tenant, start_date, end_date);
CREATE INDEX units_agency ON units(tenant, originating_agency);

CREATE TABLE unit_parents (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (tenant, unit, parent),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, parent) REFERENCES units(tenant, id)
) STRICT;

CREATE TABLE unit_keywords (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    keyword TEXT NOT NULL,
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
) STRICT;
CREATE INDEX unit_keywords_keyword ON unit_keywords(tenant, keyword);

CREATE TABLE unit_rules (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
) STRICT;
CREATE INDEX unit_rules_unit ON unit_rules(tenant, unit);

CREATE TABLE object_groups (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;

CREATE TABLE unit_object_groups (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    object_group TEXT NOT NULL,
    PRIMARY KEY (tenant, unit, object_group),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id)
) STRICT;

CREATE TABLE objects (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    object_group TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    physical INTEGER NOT NULL,
    version TEXT,
    uri TEXT,
    size INTEGER,
    digest_algorithm TEXT,
    digest TEXT,
    puid TEXT,
    format_name TEXT,
    mime_type TEXT,
    filename TEXT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX objects_operation ON objects(tenant, operation);

CREATE TABLE copies (
    tenant TEXT NOT NULL,
    object TEXT NOT NULL,
    offer TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (tenant, object, offer),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id)
) STRICT;

CREATE TABLE journal (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    sequence INTEGER NOT NULL,
    format_version INTEGER NOT NULL,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    time TEXT NOT NULL,
    agent TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (tenant, sequence)
) STRICT;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
