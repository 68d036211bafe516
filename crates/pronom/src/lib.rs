//! PRONOM format identification from bytes: DROID byte-sequence and container signatures.
