-- The free-text index gets a column of exact tags (agency, keywords) so that a search of
-- words within an agency or keyword intersects inside the index instead of joining every
-- unit the words match. Rebuilt from the units, whose keywords are found by unit (an index
-- they lacked: a unit's details and this rebuild read them so).
CREATE INDEX unit_keywords_unit ON unit_keywords(tenant, unit);
DROP TABLE unit_text;
CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');
