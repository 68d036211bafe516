-- The catalog's schema on PostgreSQL: the tables of the SQLite catalog (same names, same
-- meaning), times as RFC 3339 text written in one form by the archive's clock, JSON as the
-- text it was written as (a journal event's detail is hashed as written), and `seq`
-- columns where SQLite's rowid gave an order (ingest order, insertion order). Text compares
-- and sorts as bytes (COLLATE "C"), as in SQLite, whatever the database's locale: times
-- written in one RFC 3339 form then sort as instants, identifiers page in one order.
--
-- `{text_config}` is replaced, when this runs, by the text search configuration made just
-- before (French stemming, accents ignored), qualified by its schema.

CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    suspended_at TEXT COLLATE "C"
);

CREATE TABLE referentials (
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    kind TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    imported_at TEXT COLLATE "C" NOT NULL,
    content TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, kind, version)
);

CREATE TABLE operations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    kind TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL CHECK (state IN ('RUNNING', 'DONE')),
    status TEXT COLLATE "C" CHECK (status IN ('OK', 'WARNING', 'KO')),
    started_at TEXT COLLATE "C" NOT NULL,
    ended_at TEXT COLLATE "C",
    summary TEXT COLLATE "C",
    agent TEXT COLLATE "C",
    -- The node that runs it, while it runs.
    node TEXT COLLATE "C",
    PRIMARY KEY (tenant, id)
);
CREATE INDEX operations_running ON operations(state) WHERE state = 'RUNNING';
CREATE INDEX operations_by_kind ON operations(tenant, kind, started_at, id);
CREATE INDEX operations_by_agent ON operations(tenant, agent, kind, started_at, id);

CREATE TABLE operation_replies (
    tenant TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL,
    chunk BYTEA NOT NULL,
    PRIMARY KEY (tenant, operation, sequence),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);

CREATE TABLE units (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    xml_id TEXT COLLATE "C" NOT NULL,
    title TEXT COLLATE "C" NOT NULL,
    description_level TEXT COLLATE "C",
    start_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    originating_agency TEXT COLLATE "C",
    metadata TEXT COLLATE "C" NOT NULL,
    management TEXT COLLATE "C",
    -- Every word of the unit (title, metadata, agency, keywords), French-stemmed, accents
    -- ignored.
    words tsvector NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);
CREATE INDEX units_operation ON units(tenant, operation);
CREATE INDEX units_ingest ON units(tenant, seq);
CREATE INDEX units_agency ON units(tenant, originating_agency, seq);
CREATE INDEX units_dates ON units(tenant, start_date);
CREATE INDEX units_reach ON units(tenant, (COALESCE(end_date, start_date)));
CREATE INDEX units_unfilled ON units(tenant, operation) WHERE management IS NULL;
-- The tenant inside each text index (btree_gin): a small tenant's words are found among
-- its own units, not intersected afterwards with every tenant's.
CREATE INDEX units_words ON units USING gin (tenant, words);
CREATE INDEX units_title_words ON units USING gin (tenant, to_tsvector('{text_config}'::regconfig, title));

CREATE TABLE unit_parents (
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, unit, parent),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, parent) REFERENCES units(tenant, id)
);
CREATE INDEX unit_parents_parent ON unit_parents(tenant, parent, unit);

CREATE TABLE unit_keywords (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    keyword TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
);
CREATE INDEX unit_keywords_keyword ON unit_keywords(tenant, keyword);
CREATE INDEX unit_keywords_unit ON unit_keywords(tenant, unit);

CREATE TABLE unit_rules (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    rule TEXT COLLATE "C" NOT NULL,
    start_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
);
CREATE INDEX unit_rules_unit ON unit_rules(tenant, unit);

CREATE TABLE object_groups (
    tenant TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    xml_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);

CREATE TABLE unit_object_groups (
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    object_group TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, unit, object_group),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id)
);
CREATE INDEX unit_object_groups_group ON unit_object_groups(tenant, object_group, unit);

CREATE TABLE objects (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    object_group TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    xml_id TEXT COLLATE "C" NOT NULL,
    physical BOOLEAN NOT NULL,
    version TEXT COLLATE "C",
    uri TEXT COLLATE "C",
    size BIGINT,
    digest_algorithm TEXT COLLATE "C",
    digest TEXT COLLATE "C",
    puid TEXT COLLATE "C",
    format_name TEXT COLLATE "C",
    mime_type TEXT COLLATE "C",
    filename TEXT COLLATE "C",
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);
CREATE INDEX objects_operation ON objects(tenant, operation, seq);
CREATE INDEX objects_group ON objects(tenant, object_group);
CREATE INDEX objects_order ON objects(tenant, seq);

CREATE TABLE copies (
    tenant TEXT COLLATE "C" NOT NULL,
    object TEXT COLLATE "C" NOT NULL,
    offer TEXT COLLATE "C" NOT NULL,
    blob TEXT COLLATE "C" NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (tenant, object, offer),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id)
);

-- What a tenant holds, by agency and start year ('' for none): the exact counts and facets
-- of a search by tenant or agency alone, whatever their size. Ingest adds its units' counts
-- at its commit; triggers follow deletions and changes.
CREATE TABLE unit_counts (
    tenant TEXT COLLATE "C" NOT NULL,
    agency TEXT COLLATE "C" NOT NULL,
    year TEXT COLLATE "C" NOT NULL,
    n BIGINT NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tenant, agency, year)
);

CREATE FUNCTION unit_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE unit_counts SET n = n - 1
        WHERE tenant = OLD.tenant AND agency = COALESCE(OLD.originating_agency, '')
          AND year = COALESCE(substr(OLD.start_date, 1, 4), '');
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO unit_counts (tenant, agency, year, n)
        VALUES (NEW.tenant, COALESCE(NEW.originating_agency, ''),
                COALESCE(substr(NEW.start_date, 1, 4), ''), 1)
        ON CONFLICT (tenant, agency, year) DO UPDATE SET n = unit_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER unit_counts_deleted AFTER DELETE ON units
    FOR EACH ROW EXECUTE FUNCTION unit_counts_follow();
CREATE TRIGGER unit_counts_updated AFTER UPDATE OF tenant, originating_agency, start_date ON units
    FOR EACH ROW EXECUTE FUNCTION unit_counts_follow();

-- A text as JSON, or NULL when it is not JSON (a summary written by hand, damaged).
CREATE FUNCTION json_or_null(t TEXT) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Refuses a change: what the append-only tables call, with their reason.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TABLE journal (
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    sequence BIGINT NOT NULL,
    format_version BIGINT NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    time TEXT COLLATE "C" NOT NULL,
    agent TEXT COLLATE "C" NOT NULL,
    detail TEXT COLLATE "C" NOT NULL,
    previous_hash TEXT COLLATE "C" NOT NULL,
    hash TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, sequence)
);
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the journal is append-only');
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the journal is append-only');

-- Which events concern which subject (o: an operation, s: a named object or unit, k: a
-- kind), written with each event by the catalog, for one unit's lifecycle.
CREATE TABLE journal_subjects (
    tenant TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject, sequence)
);
CREATE TRIGGER journal_subjects_append_only BEFORE UPDATE OR DELETE ON journal_subjects
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the journal is append-only');
CREATE TRIGGER journal_subjects_no_truncate BEFORE TRUNCATE ON journal_subjects
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the journal is append-only');

CREATE TABLE journal_seals (
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    first BIGINT NOT NULL,
    last BIGINT NOT NULL,
    merkle_root TEXT COLLATE "C" NOT NULL,
    previous TEXT COLLATE "C" NOT NULL,
    sealed TEXT COLLATE "C" NOT NULL,
    token BYTEA NOT NULL,
    stamped_at TEXT COLLATE "C" NOT NULL,
    tsa TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, last),
    CHECK (first <= last)
);
CREATE TRIGGER journal_seals_append_only BEFORE UPDATE OR DELETE ON journal_seals
    FOR EACH ROW EXECUTE FUNCTION refuse_change('seals are append-only');
CREATE TRIGGER journal_seals_no_truncate BEFORE TRUNCATE ON journal_seals
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('seals are append-only');

CREATE TABLE evidence_trees (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('DEPOSIT', 'TIMESTAMP_RENEWAL', 'HASH_RENEWAL')),
    algorithm TEXT COLLATE "C" NOT NULL,
    leaves BYTEA NOT NULL,
    token BYTEA NOT NULL,
    stamped_at TEXT COLLATE "C" NOT NULL,
    certificate_until TEXT COLLATE "C" NOT NULL,
    tsa TEXT COLLATE "C" NOT NULL,
    builtin BOOLEAN NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    current BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX evidence_trees_current ON evidence_trees(tenant, seq) WHERE current;

CREATE TABLE evidence_object_leaves (
    tenant TEXT COLLATE "C" NOT NULL,
    object TEXT COLLATE "C" NOT NULL,
    chain BIGINT NOT NULL,
    tree TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant, object, chain),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id)
);

CREATE TABLE evidence_renewals (
    tenant TEXT COLLATE "C" NOT NULL,
    tree TEXT COLLATE "C" NOT NULL,
    renewed_by TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant, tree),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id),
    FOREIGN KEY (tenant, renewed_by) REFERENCES evidence_trees(tenant, id)
);

CREATE TABLE accounts (
    login TEXT COLLATE "C" PRIMARY KEY,
    role TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    password_hash TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    disabled_at TEXT COLLATE "C"
);

CREATE TABLE account_tenants (
    login TEXT COLLATE "C" NOT NULL REFERENCES accounts(login),
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (login, tenant)
);

CREATE TABLE account_agencies (
    login TEXT COLLATE "C" NOT NULL REFERENCES accounts(login),
    agency TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (login, agency)
);

CREATE TABLE api_tokens (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    hash TEXT COLLATE "C" PRIMARY KEY,
    login TEXT COLLATE "C" NOT NULL REFERENCES accounts(login),
    created_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C"
);
CREATE INDEX api_tokens_login ON api_tokens(login);

CREATE TABLE account_certificates (
    sha256 TEXT PRIMARY KEY,
    login TEXT COLLATE "C" NOT NULL REFERENCES accounts(login),
    added_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE transfer_queue (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    operation TEXT COLLATE "C" NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL,
    agent TEXT COLLATE "C" NOT NULL,
    bytes BIGINT NOT NULL,
    intake TEXT COLLATE "C" NOT NULL DEFAULT 'package',
    -- The node that ingests it (the one that received it, until it is gone).
    node TEXT COLLATE "C",
    PRIMARY KEY (tenant, operation)
);

CREATE TABLE intake_messages (
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    origin TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    seda_version TEXT COLLATE "C" NOT NULL,
    acknowledgement TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, origin, message_id)
);

CREATE TABLE acknowledgements (
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    operation TEXT COLLATE "C" NOT NULL,
    xml TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, operation)
);

CREATE TABLE unit_management_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    changed_at TEXT COLLATE "C" NOT NULL,
    previous TEXT COLLATE "C",
    current TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);
CREATE INDEX unit_management_history_unit ON unit_management_history(tenant, unit, seq);
CREATE TRIGGER unit_management_history_append_only BEFORE UPDATE OR DELETE ON unit_management_history
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the history of rules is append-only');

CREATE TABLE unit_metadata_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    changed_at TEXT COLLATE "C" NOT NULL,
    agent TEXT COLLATE "C" NOT NULL,
    changes TEXT COLLATE "C" NOT NULL,
    previous TEXT COLLATE "C" NOT NULL,
    current TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
);
CREATE INDEX unit_metadata_history_unit ON unit_metadata_history(tenant, unit, seq);
CREATE FUNCTION metadata_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'the history of metadata is append-only'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM units WHERE tenant = OLD.tenant AND id = OLD.unit) THEN
        RAISE EXCEPTION 'the history of metadata goes only with its unit'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER unit_metadata_history_guarded BEFORE UPDATE OR DELETE ON unit_metadata_history
    FOR EACH ROW EXECUTE FUNCTION metadata_history_guard();

CREATE TABLE eliminations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL DEFAULT 'elimination' CHECK (kind IN ('elimination', 'transfer_out',
        'restitution', 'closure')),
    state TEXT COLLATE "C" NOT NULL CHECK (state IN ('proposed', 'agreed', 'agreement_refused',
        'visa_granted', 'visa_partly_granted', 'visa_refused', 'withdrawn', 'executing',
        'executed', 'sent', 'rejected', 'accepted', 'partly_accepted')),
    at TEXT COLLATE "C" NOT NULL,
    seda_version TEXT COLLATE "C" NOT NULL,
    proposed_by TEXT COLLATE "C" NOT NULL,
    proposed_at TEXT COLLATE "C" NOT NULL,
    steps TEXT COLLATE "C" NOT NULL,
    totals TEXT COLLATE "C" NOT NULL,
    execution TEXT COLLATE "C",
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, id) REFERENCES operations(tenant, id)
);

CREATE TABLE elimination_units (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    elimination TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('proposed', 'excluded', 'visa_excepted', 'dropped',
        'destroying', 'destroyed')),
    reason TEXT COLLATE "C",
    record TEXT COLLATE "C" NOT NULL,
    position BIGINT,
    PRIMARY KEY (tenant, elimination, unit),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
);
CREATE INDEX elimination_units_unit ON elimination_units(tenant, unit)
    WHERE status IN ('proposed', 'destroying');
CREATE INDEX elimination_units_destroying ON elimination_units(tenant, elimination, position)
    WHERE status = 'destroying';

CREATE TABLE elimination_purges (
    tenant TEXT COLLATE "C" NOT NULL,
    elimination TEXT COLLATE "C" NOT NULL,
    batch TEXT COLLATE "C" NOT NULL,
    object TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, elimination, object),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
);

CREATE TABLE tombstones (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    elimination TEXT COLLATE "C" NOT NULL,
    destroyed_at TEXT COLLATE "C" NOT NULL,
    record TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, unit),
    FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)
);
CREATE INDEX tombstones_elimination ON tombstones(tenant, elimination, seq);
CREATE TRIGGER tombstones_kept BEFORE UPDATE OR DELETE ON tombstones
    FOR EACH ROW EXECUTE FUNCTION refuse_change('tombstones are kept as written');

CREATE TABLE tombstone_objects (
    tenant TEXT COLLATE "C" NOT NULL,
    object TEXT COLLATE "C" NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, object),
    FOREIGN KEY (tenant, unit) REFERENCES tombstones(tenant, unit)
);

CREATE TABLE deliveries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL CHECK (state IN ('awaiting_authorization', 'refused', 'delivered', 'removed')),
    requested_by TEXT COLLATE "C" NOT NULL,
    requested_at TEXT COLLATE "C" NOT NULL,
    request TEXT COLLATE "C" NOT NULL,
    restricted TEXT COLLATE "C" NOT NULL,
    steps TEXT COLLATE "C" NOT NULL,
    package TEXT COLLATE "C",
    package_bytes BIGINT NOT NULL DEFAULT 0,
    expires_at TEXT COLLATE "C",
    PRIMARY KEY (tenant, id)
);
CREATE INDEX deliveries_by_requester ON deliveries (tenant, requested_by);
CREATE INDEX deliveries_to_remove ON deliveries (expires_at) WHERE state = 'delivered';

CREATE TABLE web_sessions (
    token_sha256 TEXT PRIMARY KEY,
    login TEXT COLLATE "C" NOT NULL REFERENCES accounts(login),
    csrf TEXT COLLATE "C" NOT NULL,
    opened_at TEXT COLLATE "C" NOT NULL,
    last_seen TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C",
    tenant TEXT COLLATE "C" REFERENCES tenants(id)
);
CREATE INDEX web_sessions_login ON web_sessions(login);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen);
CREATE INDEX web_sessions_opened_at ON web_sessions(opened_at);

-- The processes serving this catalog: each alive until its lease ends (it renews it every
-- few seconds). Times are the server's, so that the nodes' clocks do not matter.
CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ NOT NULL
);

-- Periodic duties that one node at a time runs (maintenance), and until when it leads.
CREATE TABLE leads (
    duty TEXT COLLATE "C" PRIMARY KEY,
    node TEXT COLLATE "C" NOT NULL,
    until TIMESTAMPTZ NOT NULL
);
