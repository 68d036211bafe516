-- The hash chain. Events written before it get their links once, at the first start after
-- the migration (`backfill_chain`); after that, an event cannot change at all and cannot be
-- written without its links.
ALTER TABLE journal ADD COLUMN previous_hash TEXT;
ALTER TABLE journal ADD COLUMN hash TEXT;
DROP TRIGGER journal_no_update;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    WHEN OLD.hash IS NOT NULL
      OR NEW.tenant IS NOT OLD.tenant OR NEW.sequence IS NOT OLD.sequence
      OR NEW.format_version IS NOT OLD.format_version OR NEW.operation IS NOT OLD.operation
      OR NEW.kind IS NOT OLD.kind OR NEW.outcome IS NOT OLD.outcome OR NEW.time IS NOT OLD.time
      OR NEW.agent IS NOT OLD.agent OR NEW.detail IS NOT OLD.detail
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_linked BEFORE INSERT ON journal
    WHEN NEW.hash IS NULL OR NEW.previous_hash IS NULL
    BEGIN SELECT RAISE(ABORT, 'a journal event is written with its hash and the previous one'); END;
CREATE INDEX journal_unlinked ON journal(tenant) WHERE hash IS NULL;
