//! Use cases of the archive (ingest first) over the catalog, blob store, scanner and clock traits.
