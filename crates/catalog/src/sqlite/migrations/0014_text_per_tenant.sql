-- One free-text index per tenant (`text_table`), made by the tenant's first ingest and
-- filled here from the units already there: a search walks only its tenant's postings. In
-- one index for all, a word's matches in every tenant were each looked up to find the
-- tenant's, which cost a small tenant what the whole platform's matches cost.
DROP TABLE unit_text;
