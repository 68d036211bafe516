-- Search at tens of millions of units (issue 20, measured in docs/perf/search.md): a search
-- reads the first matches in ingest order (`ORDER BY seq LIMIT`), so what it tests on each
-- unit it passes must be cheap, and a criterion kept in another table must be readable in
-- that order.

-- A unit's title words, stored: computing them for each unit a title search passes cost
-- 100 ms at 10,000,000 units.
ALTER TABLE units ADD COLUMN title_words tsvector
    GENERATED ALWAYS AS (to_tsvector('{text_config}'::regconfig, title)) STORED;
DROP INDEX units_title_words;
CREATE INDEX units_title_words ON units USING gin (tenant, title_words);

-- A keyword's units in ingest order: the first matches of a keyword search are read from
-- this index, rather than each unit in turn being looked up in the keywords (300 ms).
ALTER TABLE unit_keywords ADD COLUMN unit_seq BIGINT;
UPDATE unit_keywords k SET unit_seq = u.seq FROM units u WHERE u.tenant = k.tenant AND u.id = k.unit;
ALTER TABLE unit_keywords ALTER COLUMN unit_seq SET NOT NULL;
CREATE INDEX unit_keywords_in_order ON unit_keywords(tenant, keyword, unit_seq);
DROP INDEX unit_keywords_keyword;
CREATE FUNCTION unit_keywords_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.unit_seq := (SELECT seq FROM units WHERE tenant = NEW.tenant AND id = NEW.unit);
    RETURN NEW;
END $$;
CREATE TRIGGER unit_keywords_seq BEFORE INSERT ON unit_keywords
    FOR EACH ROW EXECUTE FUNCTION unit_keywords_seq();

-- A search by dates alone reads the first matches from the index, without the table (an
-- index-only scan: 15 ms rather than 34 at 10,000,000 units, a year of 37 matching).
CREATE INDEX units_ingest_dates ON units(tenant, seq) INCLUDE (start_date, end_date);
DROP INDEX units_ingest;
