-- Free text over units (title; description, keywords and every other word of their
-- metadata), rowid = the unit's rowid. Filled for existing units by the migration.
CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
CREATE INDEX unit_parents_parent ON unit_parents(tenant, parent);
