//! Catalog and journal persistence behind one trait: SQLite (embedded default).
