-- The originating agencies a producer account speaks for (the services of its authority
-- it acts for): it agrees to the eliminations of their records only. None: every agency of
-- its tenants, as before.
CREATE TABLE account_agencies (
    login TEXT NOT NULL REFERENCES accounts(login),
    agency TEXT NOT NULL,
    PRIMARY KEY (login, agency)
) STRICT;
