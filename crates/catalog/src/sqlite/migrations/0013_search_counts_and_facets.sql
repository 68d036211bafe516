-- What searches read, without reaching each unit's row: - by dates: agency and start year
-- from the index on the last known day itself; - with no criterion but an agency:
-- `unit_counts`, how many units each tenant has by agency and start year ('' for none: keys
-- cannot be NULL), exact for a million units from a few rows; - by words: `unit_facets`,
-- each match's tenant, agency and dates in rows of a few dozen bytes keyed by the unit's
-- rowid (the text index's matches come in rowid order, so two thousand fall on a few dozen
-- pages here, not hundreds of pages of whole units). Both are kept in the transaction that
-- changes the units: the ingest's commit adds to them (in bulk), triggers follow a unit
-- removed or changed.
DROP INDEX units_reach;
CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date), start_date, originating_agency);
CREATE TABLE unit_counts (
    tenant TEXT NOT NULL,
    agency TEXT NOT NULL,
    year TEXT NOT NULL,
    n INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tenant, agency, year)
) STRICT, WITHOUT ROWID;
INSERT INTO unit_counts (tenant, agency, year, n)
    SELECT tenant, COALESCE(originating_agency, ''), COALESCE(substr(start_date, 1, 4), ''), COUNT(*)
    FROM units GROUP BY 1, 2, 3;
CREATE TABLE unit_facets (
    unit INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    originating_agency TEXT,
    start_date TEXT,
    end_date TEXT
) STRICT;
INSERT INTO unit_facets (unit, tenant, originating_agency, start_date, end_date)
    SELECT rowid, tenant, originating_agency, start_date, end_date FROM units;
CREATE TRIGGER unit_derived_delete AFTER DELETE ON units BEGIN
    UPDATE unit_counts SET n = n - 1
    WHERE tenant = OLD.tenant AND agency = COALESCE(OLD.originating_agency, '')
      AND year = COALESCE(substr(OLD.start_date, 1, 4), '');
    DELETE FROM unit_facets WHERE unit = OLD.rowid;
END;
CREATE TRIGGER unit_derived_update AFTER UPDATE OF tenant, originating_agency, start_date, end_date ON units BEGIN
    UPDATE unit_counts SET n = n - 1
    WHERE tenant = OLD.tenant AND agency = COALESCE(OLD.originating_agency, '')
      AND year = COALESCE(substr(OLD.start_date, 1, 4), '');
    INSERT INTO unit_counts (tenant, agency, year, n)
    VALUES (NEW.tenant, COALESCE(NEW.originating_agency, ''), COALESCE(substr(NEW.start_date, 1, 4), ''), 1)
    ON CONFLICT (tenant, agency, year) DO UPDATE SET n = n + 1;
    UPDATE unit_facets SET tenant = NEW.tenant, originating_agency = NEW.originating_agency,
        start_date = NEW.start_date, end_date = NEW.end_date
    WHERE unit = OLD.rowid;
END;
