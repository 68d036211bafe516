-- What each journal event is about, so that a unit's or an operation's lifecycle reads its
-- own events instead of the tenant's whole journal (issue 19: a unit's history page).
-- Keys: 'o:' an operation (the event's own, or the one its detail names in `of`), 's:' an
-- object, unit or operation its detail names in `object` or `subject`, 'k:AUDIT' every audit.
-- A trigger writes them with the event, in its transaction, whatever code wrote the event;
-- like the journal they are never changed.
CREATE TABLE journal_subjects (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject, sequence)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER journal_subjects_written AFTER INSERT ON journal BEGIN
    INSERT OR IGNORE INTO journal_subjects (tenant, subject, sequence)
        SELECT NEW.tenant, 'o:' || NEW.operation, NEW.sequence
        UNION ALL SELECT NEW.tenant, 'o:' || json_extract(NEW.detail, '$.of'), NEW.sequence
            WHERE CASE WHEN json_valid(NEW.detail) THEN json_type(NEW.detail, '$.of') = 'text' ELSE 0 END
        UNION ALL SELECT NEW.tenant, 's:' || json_extract(NEW.detail, '$.object'), NEW.sequence
            WHERE CASE WHEN json_valid(NEW.detail) THEN json_type(NEW.detail, '$.object') = 'text' ELSE 0 END
        UNION ALL SELECT NEW.tenant, 's:' || json_extract(NEW.detail, '$.subject'), NEW.sequence
            WHERE CASE WHEN json_valid(NEW.detail) THEN json_type(NEW.detail, '$.subject') = 'text' ELSE 0 END
        UNION ALL SELECT NEW.tenant, 'k:AUDIT', NEW.sequence WHERE NEW.kind = 'AUDIT';
END;
CREATE TRIGGER journal_subjects_no_update BEFORE UPDATE ON journal_subjects
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_subjects_no_delete BEFORE DELETE ON journal_subjects
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

-- The events written before this migration.
INSERT OR IGNORE INTO journal_subjects (tenant, subject, sequence)
    SELECT tenant, 'o:' || operation, sequence FROM journal
    UNION ALL SELECT tenant, 'o:' || json_extract(detail, '$.of'), sequence FROM journal
        WHERE CASE WHEN json_valid(detail) THEN json_type(detail, '$.of') = 'text' ELSE 0 END
    UNION ALL SELECT tenant, 's:' || json_extract(detail, '$.object'), sequence FROM journal
        WHERE CASE WHEN json_valid(detail) THEN json_type(detail, '$.object') = 'text' ELSE 0 END
    UNION ALL SELECT tenant, 's:' || json_extract(detail, '$.subject'), sequence FROM journal
        WHERE CASE WHEN json_valid(detail) THEN json_type(detail, '$.subject') = 'text' ELSE 0 END
    UNION ALL SELECT tenant, 'k:AUDIT', sequence FROM journal WHERE kind = 'AUDIT';
