//! The schema, in numbered SQL files run in order; `PRAGMA user_version` is the number of
//! the last one run. A file is never changed once released: a change is a new file.

/// Schema migrations, in order; the index + 1 is the schema version they lead to.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_reply_chunks.sql"),
    include_str!("migrations/0003_journal_chain.sql"),
    include_str!("migrations/0004_seals_and_evidence.sql"),
    include_str!("migrations/0005_accounts.sql"),
    include_str!("migrations/0006_transfer_queue.sql"),
    include_str!("migrations/0007_unit_text.sql"),
    include_str!("migrations/0008_client_certificates.sql"),
    include_str!("migrations/0009_asalae_intake.sql"),
    include_str!("migrations/0010_units_reach.sql"),
    include_str!("migrations/0011_text_tags.sql"),
    include_str!("migrations/0012_acknowledgements.sql"),
    include_str!("migrations/0013_search_counts_and_facets.sql"),
    include_str!("migrations/0014_text_per_tenant.sql"),
    include_str!("migrations/0015_unit_management.sql"),
    include_str!("migrations/0016_eliminations.sql"),
    include_str!("migrations/0017_elimination_in_steps.sql"),
    include_str!("migrations/0018_account_agencies.sql"),
    include_str!("migrations/0019_deliveries.sql"),
    include_str!("migrations/0020_transfers_out.sql"),
    include_str!("migrations/0021_unit_metadata_history.sql"),
    include_str!("migrations/0022_web_sessions.sql"),
    include_str!("migrations/0023_operations_by_kind.sql"),
    include_str!("migrations/0024_journal_subjects.sql"),
    include_str!("migrations/0025_operation_nodes.sql"),
];

/// The migration after which the units already there are indexed for free text, each in its
/// tenant's index (earlier migrations made one index for all, dropped by this one).
pub(super) const TEXT_MIGRATION: usize = 13;
