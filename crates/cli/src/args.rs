//! The command line, as clap reads it: every command and its arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Carnac, an electronic archive with probative value.
#[derive(Parser)]
#[command(name = "carnac", version)]
pub(crate) struct Cli {
    /// The data folder: catalog, offers, configuration (carnac.toml).
    #[arg(
        long,
        global = true,
        env = "CARNAC_DATA",
        default_value = "carnac-data"
    )]
    pub(crate) data: PathBuf,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Tenants (the local authorities whose archives are kept).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Accounts of people and applications, their roles and API tokens.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Referentials (agencies, rules, ingest contracts, archive profiles, formats).
    Referential {
        #[command(subcommand)]
        command: ReferentialCommand,
    },
    /// Eliminations: list, show, execute (the operator's side of the workflow the web
    /// application and the API carry).
    Elimination {
        #[command(subcommand)]
        command: EliminationCommand,
    },
    /// Transfers to the definitive archives: send (the package written beside), feed
    /// their acknowledgement or reply (a reply that accepts purges what it accepts), show,
    /// list, withdraw.
    TransferOut {
        #[command(subcommand)]
        command: TransferOutCommand,
    },
    /// Restitutions to the producer (the end of the contract): send (the package written
    /// beside), feed its answer or acknowledgement (an acknowledgement purges every copy),
    /// show, list, withdraw.
    Restitution {
        #[command(subcommand)]
        command: RestitutionCommand,
    },
    /// Communication: writes the package (DIP) of units and everything below them, if their
    /// access rules let them be communicated today, and journals it. Exit 0: delivered; 1:
    /// refused (every reason listed) or could not run.
    Deliver {
        #[arg(long)]
        tenant: String,
        /// A unit to deliver, with the units below it; repeat for several.
        #[arg(long, required = true)]
        unit: Vec<String>,
        /// The package to write (a new file).
        #[arg(long)]
        out: PathBuf,
        /// Who asks for it, as the journal and the package name them.
        #[arg(long, default_value = "operator")]
        requester: String,
        #[arg(long)]
        comment: Option<String>,
        /// The request's identifier, which the answer cites (default: the delivery's
        /// operation).
        #[arg(long)]
        request_id: Option<String>,
        /// Also write the answer (`ArchiveDeliveryRequestReply`) to this new file.
        #[arg(long)]
        reply: Option<PathBuf>,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Management rules of archive units, changed after ingest.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Ingests a SEDA transfer (zip, tar, tar.gz, tar.bz2). Exit 0: accepted; 2: rejected;
    /// 1: could not run.
    Ingest {
        /// The tenant the transfer is for.
        #[arg(long)]
        tenant: String,
        /// The transfer container.
        file: PathBuf,
        /// Write the ArchiveTransferReply to this file (default: standard output).
        #[arg(long)]
        atr: Option<PathBuf>,
        /// Print a JSON summary on standard output instead of the reply.
        #[arg(long)]
        json: bool,
    },
    /// Serves the web UI and the HTTP API (loopback only without TLS).
    Serve {
        /// Address to listen on (default from carnac.toml, else 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Seals the journal's events written since the last seal (a Merkle tree whose root,
    /// chained to the previous seal, is timestamped), for one tenant or all.
    Seal {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Evidence records (RFC 4998) of stored files.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Verifies a file against its evidence record, offline: needs no data folder and no
    /// database. Exit 0: valid; 2: invalid (every problem listed); 1: could not run.
    Verify {
        /// The file.
        file: PathBuf,
        /// Its evidence record (DER, as `evidence export` writes it).
        #[arg(long)]
        evidence: PathBuf,
        /// PEM file(s) of the trust anchors of the timestamping authorities.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// CRL file(s) (PEM or DER; a bundle's revocation.pem): every timestamp's certificates
        /// must then be covered and not revoked when it mattered.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Reads every copy of every stored file of a tenant, compares it with the catalog's
    /// digest, repairs a damaged or missing copy from a good one. Exit 0: intact; 2: damage
    /// found (repaired or not, every case listed).
    Audit {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Deposit attestations: signed and timestamped statements of what each accepted transfer
    /// delivered.
    Attestation {
        #[command(subcommand)]
        command: AttestationCommand,
    },
    /// The lifecycle of an archive unit or a stored object: the journal events that concern
    /// it, each with the seal that covers it.
    Lifecycle {
        #[arg(long)]
        tenant: String,
        /// A unit id or an object id.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        json: bool,
    },
    /// One pass of the periodic duties `serve` runs: pending evidence records, timestamp
    /// renewals that are due, journal seals; for every tenant. Exit 0: done; 1: a duty
    /// failed (each logged); 3: another node alive, on the same catalog, holds the
    /// maintenance's lead and runs them itself: nothing done.
    Maintain,
    /// The tenants' journals.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Checks that the catalog and every offer agree. Exit 0: consistent; 2: problems found.
    Check {
        /// Also re-read every copy and compare its digest.
        #[arg(long)]
        digests: bool,
    },
    /// Storage offers: fill one added to a running archive.
    Offers {
        #[command(subcommand)]
        command: OffersCommand,
    },
    /// The catalog: move an embedded one to PostgreSQL
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum CatalogCommand {
    /// Copies this data folder's embedded catalog (catalog.sqlite) into an empty PostgreSQL
    /// catalog, then checks the copy (rows of every table, each tenant's journal chain and
    /// its last hash, the seals) before it reports success. The embedded catalog is left as
    /// it was; `[catalog] url` in carnac.toml then switches the archive. The archive must be
    /// stopped. Exit 0: copied and checked; 1: not done (the reason given).
    Migrate {
        /// `postgres://user@host:port/database` (the password from --password-file or
        /// CARNAC_CATALOG_PASSWORD).
        #[arg(long)]
        to: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The schema to create the catalog in (`carnac`).
        #[arg(long)]
        schema: Option<String>,
        /// Encrypted connection, the server checked against --tls-trust (PEM) or the web's
        /// roots.
        #[arg(long)]
        tls: bool,
        #[arg(long)]
        tls_trust: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum OffersCommand {
    /// Copies into an offer every file it lacks (an offer added to the configuration),
    /// from the other offers, each checked against the catalog's digest; records the copies
    /// (journaled). Run again after a stop: it goes on. Exit 0: the offer holds everything;
    /// 2: some files have no good copy to copy from (listed).
    Sync {
        /// The offer's name, as `[[storage.offer]]` declares it.
        #[arg(long)]
        offer: String,
        #[arg(long)]
        json: bool,
    },
    /// Removes an offer from the archive: the catalog forgets every copy it holds, in each
    /// tenant with a journaled OFFER_REMOVAL operation; its blobs are left for the operator
    /// to decommission, and its `[[storage.offer]]` is then removed from carnac.toml.
    /// Refused while a file would keep fewer than two copies in the other offers. Exit 0:
    /// removed; 1: refused (every reason listed).
    Remove {
        #[arg(long)]
        offer: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TenantCommand {
    /// Creates a tenant. ID: 1 to 64 of A-Z a-z 0-9 _ - (a SIREN in production).
    Create {
        id: String,
        /// A human-readable name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists the tenants.
    List,
    /// Suspends a tenant: it keeps reading and exporting its archives, it takes no transfer.
    Suspend { id: String },
    /// Lifts a tenant's suspension.
    Resume { id: String },
    /// Writes everything the tenant needs to leave and prove its past without Carnac to a
    /// new folder: its units as SEDA packages by transfer (with evidence), the original
    /// manifests and replies, referentials, journal and seals, attestations, certificates,
    /// tombstones, a README, and a timestamped manifest of every file. Exit 0: written.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        out: PathBuf,
        /// Units in one package at most (a unit and all below it are never split).
        #[arg(long, default_value_t = carnac_archive::export::DEFAULT_UNITS_PER_PACKAGE)]
        units_per_package: usize,
        #[arg(long)]
        json: bool,
    },
    /// Closes a suspended tenant whose latest export is `--export` (verified again, nothing
    /// changed since): every copy of its holdings is destroyed, its journal, attestations and
    /// certificates kept, and the closing certificate written. Exit 0: closed; 1: refused,
    /// with every reason.
    Close {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        export: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Checks an export with its files alone: every file's SHA-256, nothing missing or
    /// added, the manifest's timestamp. Exit 0: whole; 2: problems, each listed.
    VerifyExport {
        dir: PathBuf,
        /// Trust anchors of the timestamp (PEM); the export's own `trust.pem` if none (get
        /// them from the archive by another way to trust the answer).
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Creates an account bound to the given tenants (none for an operator).
    Create {
        login: String,
        #[arg(long, value_parser = ["operator", "archivist", "producer", "control-authority", "auditor"])]
        role: String,
        #[arg(long)]
        tenant: Vec<String>,
        /// A file whose first line is the password (people, and as@lae clients).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Write a new API token for the account to this file (readable by its owner only).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// A person (default) or an application.
        #[arg(long, default_value = "person", value_parser = ["person", "application"])]
        kind: String,
        /// A TLS client certificate (PEM) that identifies the account over HTTPS.
        #[arg(long)]
        certificate: Option<PathBuf>,
        /// For a producer: an originating agency (service) it speaks for, from its tenants'
        /// agencies referential; repeat for several. None: every agency of its tenants.
        #[arg(long)]
        agency: Vec<String>,
    },
    /// Registers a TLS client certificate (PEM) as a credential of an existing account.
    Certificate {
        login: String,
        #[arg(long)]
        certificate: PathBuf,
    },
    /// Writes a new API token for an existing account.
    Token {
        login: String,
        #[arg(long)]
        token_file: PathBuf,
    },
    /// Lists the API tokens of an account: id (the beginning of its SHA-256), made, revoked.
    Tokens { login: String },
    /// Revokes one API token of an account, named by its id; its other credentials go on.
    RevokeToken { login: String, id: String },
    /// Lists the accounts, their roles and tenants.
    List,
    /// Disables an account: its tokens, password and certificates stop working at once.
    Disable { login: String },
    /// Enables a disabled account again.
    Enable { login: String },
}

#[derive(Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Writes the evidence record of a stored file; with --bundle, also a folder with the
    /// file, the record, the trust anchors and certificates, to verify without the archive.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        object: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Makes the evidence records of stored files that have none yet (normally done after
    /// each ingest and by `serve`'s maintenance).
    Create {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The evidence report of an archive unit ("relevé de valeur probante"): each file's
    /// digest, copies, last audit and evidence record status, and the journal events that
    /// concern it with their seals; signed by the archive and timestamped (JSON + HTML).
    Report {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Renews evidence records now (RFC 4998): a timestamp renewal of every record, or with
    /// --hash a hash-tree renewal to that algorithm, which reads every stored file again.
    Renew {
        #[arg(long)]
        tenant: String,
        /// SHA-256, SHA-384 or SHA-512.
        #[arg(long)]
        hash: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AttestationCommand {
    /// Copies the attestation of an accepted ingest (JSON, its signature, HTML, the archive's
    /// certificate) to a folder.
    Export {
        #[arg(long)]
        tenant: String,
        /// The ingest's operation.
        #[arg(long)]
        operation: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks an attestation offline: its signature by the archive and the signature's
    /// timestamp. Exit 0: valid; 2: invalid.
    Verify {
        /// attestation.json
        document: PathBuf,
        /// attestation.p7s
        #[arg(long)]
        signature: PathBuf,
        /// The archive's certificate (PEM), obtained from the archive independently.
        #[arg(long)]
        signer: PathBuf,
        /// PEM file(s) of the timestamping authorities' trust anchors.
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum JournalCommand {
    /// Recomputes the hash chain of a tenant's journal and checks its seals, listing every
    /// break (edited, missing, inserted or moved events, seals that do not match or whose
    /// timestamp is not valid). With --export or --proof, checks an exported journal or one
    /// event's proof offline instead (no data folder); with --offer and --tenant, the
    /// tenant's sealed journal as one storage offer keeps it, without the catalog. Exit 0:
    /// intact; 2: broken; 1: could not run.
    Verify {
        #[arg(long, required_unless_present_any = ["export", "proof"])]
        tenant: Option<String>,
        /// A folder written by `journal export`.
        #[arg(long, conflicts_with_all = ["tenant", "proof", "offer"])]
        export: Option<PathBuf>,
        /// A file written by `journal prove`.
        #[arg(long, conflicts_with_all = ["tenant", "export", "offer"])]
        proof: Option<PathBuf>,
        /// A storage offer's folder (`offers/offer-1`): its copies of the seals and journal
        /// segments alone are checked.
        #[arg(long, requires = "tenant")]
        offer: Option<PathBuf>,
        /// PEM file(s) of the timestamping authorities' trust anchors (offline checks).
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Writes a tenant's journal and seals to a folder, with nothing of other tenants, and how
    /// to check them without Carnac. With --offer, rebuilds the tenant's sealed journal from
    /// one storage offer's copies alone (no data folder, no catalog: what survives the loss
    /// of the catalog), the trust anchors given written beside it.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        out: PathBuf,
        /// A storage offer's folder (`offers/offer-1`).
        #[arg(long)]
        offer: Option<PathBuf>,
        /// With --offer: PEM file(s) of the timestamping authorities' trust anchors.
        #[arg(long, requires = "offer")]
        trust: Vec<PathBuf>,
    },
    /// Writes the proof of one event: its Merkle path to the timestamped seal that covers it.
    Prove {
        #[arg(long)]
        tenant: String,
        /// The event's sequence number.
        #[arg(long)]
        event: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum EliminationCommand {
    /// The tenant's eliminations, newest first: id, state, date, units.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// One elimination: its steps, its units and those left out, with why.
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Writes an executed disposal's proof to --out (a folder): its certificate
    /// (certificate.json), signed (certificate.p7s, by signer.pem), and its SEDA
    /// notification (notification.xml), each checked against the digest recorded when it was
    /// written. For eliminations, transfers out, restitutions and tenant closures alike.
    /// Exit 0: written; 1: not found, not executed, or no intact copy.
    Certificate {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Executes what the visa grants. Exit 0: executed; 1: refused (no visa that grants
    /// it, refused, already executed…), with the reason.
    Execute {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TransferOutCommand {
    /// Sends units (each with every unit below it) whose retention is over to the
    /// definitive archives: the package is kept until the purge and written to `--out`.
    /// Exit 0: sent (units left out listed with why); 1: refused, with every reason.
    Send {
        #[arg(long)]
        tenant: String,
        #[arg(long, required = true)]
        unit: Vec<String>,
        /// The definitive archives, in the tenant's agencies referential.
        #[arg(long)]
        archival_agency: String,
        #[arg(long)]
        archival_agreement: Option<String>,
        #[arg(long)]
        comment: Option<String>,
        /// Where to write the package (a new file).
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Feeds the definitive archives' Acknowledgement or ArchiveTransferReply (a file).
    /// A reply that accepts purges what it accepts (in steps; a stop is completed at the
    /// next start). Exit 0: recorded (accepted and purged, rejected, or acknowledged); 1:
    /// refused (not a reply to this transfer…), with the reason.
    Reply {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The tenant's transfers out, newest first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// One transfer out: its steps, its units and those left out, with why.
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Withdraws a transfer out not yet accepted: its units are free, its package removed.
    Withdraw {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum RestitutionCommand {
    /// Gives a producer back its records (units of its agency, each with every unit below
    /// it; a hold keeps a unit): the `ArchiveRestitutionRequest` and the package are kept,
    /// the package written to `--out`. Exit 0: sent (units left out listed with why); 1:
    /// refused, with every reason.
    Send {
        #[arg(long)]
        tenant: String,
        #[arg(long, required = true)]
        unit: Vec<String>,
        /// The producer, in the tenant's agencies referential.
        #[arg(long)]
        originating_agency: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Feeds the producer's ArchiveRestitutionRequestReply, Acknowledgement or
    /// ArchiveTransferReply (a file). Its acknowledgement (or an accepting reply) purges
    /// every copy. Exit 0: recorded; 1: refused, with the reason.
    Reply {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The tenant's restitutions, newest first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// One restitution: its steps, its units and those left out, with why.
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Withdraws a restitution not yet acknowledged: its units are free, its package removed.
    Withdraw {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Changes the rules of a selection of units from a JSON file: `{"units": [...]?,
    /// "query": {...}?, "actions": [...], "comment"?}` (as `POST …/rules/changes`). Prints
    /// each unit changed and each left as it was, and why. Exit 0: done (or dry run); 1:
    /// refused, with every reason.
    Change {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        file: PathBuf,
        /// Say what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReferentialCommand {
    /// Imports a folder laid out as Vitam's referentials (agencies/, rules/, contracts/,
    /// profiles/, formats/, archiveUnitProfiles/). A folder with any malformed file (an
    /// archive unit profile whose schema cannot be compiled among them) is refused whole.
    Import {
        #[arg(long)]
        tenant: String,
        dir: PathBuf,
    },
}
