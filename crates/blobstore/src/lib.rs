//! File storage offers behind one trait: local filesystem and in-memory, with batched durable writes.
