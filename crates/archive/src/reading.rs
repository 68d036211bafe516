//! What the archive gives back to those allowed to read it: a tenant's units (searched, or
//! one with its details), its stored files read from a copy and verified on the way, its
//! operations and their replies, its referentials. The HTTP layer and the CLI read through
//! these, never the catalog itself, so that what a reader sees follows the archive's rules
//! (a suspended or unknown tenant, a file that no longer matches its digest).

use std::io::Read;

use carnac_blobstore::BlobKey;
use carnac_catalog::{
    IntakeMessage, Interrupt, ObjectRow, Operation, OperationPage, QueuedTransfer, ReferentialKind,
    ReferentialVersion, ReferentialVersionInfo, Tenant, Unit, UnitDetails, UnitPage, UnitQuery,
};
use carnac_model::{Digest, MultiHasher, ObjectId, OperationId, TenantId, UnitId};

use crate::{Archive, ArchiveError};

/// One unit with all the catalog knows of it.
#[derive(Debug, Clone)]
pub struct UnitRecord {
    pub unit: Unit,
    /// Its objects, physical ones included.
    pub objects: Vec<ObjectRow>,
    pub details: UnitDetails,
    /// Its effective rules: its own and those inherited from every unit above it.
    pub effective: crate::rules::UnitEffectiveRules,
}

/// Where a tenant's proof stands, for its home page: the last audit of its copies, the last
/// seal of its journal, and how many files wait for their evidence record.
#[derive(Debug, Clone)]
pub struct IntegrityState {
    pub last_audit: Option<Operation>,
    pub last_seal: Option<Operation>,
    /// Files without an evidence record yet, counted up to [`PENDING_COUNTED`].
    pub evidence_pending: usize,
}

/// How far [`Archive::integrity_state`] counts files waiting for evidence.
pub const PENDING_COUNTED: usize = 10_000;

/// An operation, or a transfer received and waiting for its ingest.
#[derive(Debug, Clone)]
pub enum OperationFound {
    Operation(Operation),
    Queued(QueuedTransfer),
}

/// A file the tenant holds, as the catalog describes it: what a reader is told before the
/// bytes (size, digest, type, name).
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub tenant: TenantId,
    pub object: ObjectId,
    /// The operation (blob batch) that stored it.
    pub operation: OperationId,
    pub size: u64,
    pub digest: Digest,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
}

impl Archive {
    /// The tenants of the platform, without the reserved ones.
    pub fn member_tenants(&self) -> Result<Vec<Tenant>, ArchiveError> {
        Ok(self
            .catalog
            .tenants()?
            .into_iter()
            .filter(|t| !carnac_model::access::is_reserved(&t.id))
            .collect())
    }

    /// A tenant as the platform knows it (suspended or not); None if there is none such.
    pub fn tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, ArchiveError> {
        Ok(self.catalog.tenant(tenant)?)
    }

    /// The transfer of the tenant that came with that origin agency and message identifier
    /// (the as@lae intake's names for it).
    pub fn intake_message(
        &self,
        tenant: &TenantId,
        origin: &str,
        message_id: &str,
    ) -> Result<Option<IntakeMessage>, ArchiveError> {
        Ok(self.catalog.intake_message(tenant, origin, message_id)?)
    }

    /// Who started an operation of the tenant (an account), or sent the transfer still in
    /// the queue; None for an unknown operation or one from before accounts.
    pub fn operation_agent(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<String>, ArchiveError> {
        // The queue first: its row goes only once the operation is done, so one of the two
        // always knows the sender, whatever the worker does meanwhile.
        let queued = self
            .catalog
            .queued_transfer(tenant, operation)?
            .map(|q| q.agent);
        Ok(self
            .catalog
            .operation(tenant, operation)?
            .and_then(|o| o.agent)
            .or(queued))
    }

    /// Whether the catalog answers (for a health check; says nothing of any tenant).
    pub fn catalog_answers(&self) -> Result<(), ArchiveError> {
        self.catalog.tenants()?;
        Ok(())
    }

    /// How deep a search pages: beyond, a reader narrows it.
    pub fn search_window(&self) -> u64 {
        self.catalog.search_window()
    }

    /// A page of the tenant's units that match, with counts by agency and year.
    pub fn search_units(
        &self,
        tenant: &TenantId,
        query: &UnitQuery,
        interrupt: &Interrupt,
    ) -> Result<UnitPage, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.search_units(tenant, query, interrupt)?)
    }

    /// One unit of the tenant with its objects and details; None if the tenant has none
    /// such.
    pub fn unit_record(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<UnitRecord>, ArchiveError> {
        let found = self.catalog.unit(tenant, unit)?;
        let details = self.catalog.unit_details(tenant, unit)?;
        let Some(((found, objects), details)) = found.zip(details) else {
            return Ok(None);
        };
        let effective = self
            .effective_rules(tenant, std::slice::from_ref(unit))?
            .remove(unit)
            .ok_or_else(|| {
                ArchiveError::Catalog(carnac_catalog::CatalogError::Corruption(format!(
                    "unit {unit} is missing from its own rules graph"
                )))
            })?;
        Ok(Some(UnitRecord {
            unit: found,
            objects,
            details,
            effective,
        }))
    }

    /// An operation of the tenant, or its transfer still in the queue.
    pub fn operation_or_queued(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<OperationFound>, ArchiveError> {
        // The queue first: its row goes only once the operation is done, so one of the two
        // is always found, whatever the worker does meanwhile.
        let queued = self.catalog.queued_transfer(tenant, operation)?;
        let found = self.catalog.operation(tenant, operation)?;
        Ok(match (found, queued) {
            (Some(o), _) => Some(OperationFound::Operation(o)),
            (None, Some(q)) => Some(OperationFound::Queued(q)),
            (None, None) => None,
        })
    }

    /// A page of a tenant's transfers, newest first: on the first page (no
    /// `page.before`, no status asked), those still waiting in the queue come first; then
    /// the ingests, running or done, as `page` asks (its kind is set here).
    pub fn transfers(
        &self,
        tenant: &TenantId,
        page: &OperationPage,
    ) -> Result<(Vec<QueuedTransfer>, Vec<Operation>), ArchiveError> {
        self.require_tenant(tenant)?;
        let page = OperationPage {
            kind: carnac_model::journal::EventKind::Ingest,
            ..page.clone()
        };
        let mut queued = Vec::new();
        if page.before.is_none() && page.status.is_none() {
            // The queue holds what the tenants' shares of it let in: a bounded list.
            queued = self
                .catalog
                .queued_transfers()?
                .into_iter()
                .filter(|q| &q.tenant == tenant)
                .filter(|q| page.agent.as_ref().is_none_or(|a| a == &q.agent))
                .collect();
            queued.sort_by(|a, b| b.received_at.cmp(&a.received_at));
        }
        let mut operations = self.catalog.operations_page(tenant, &page)?;
        // An ingest the worker has started is both queued and running: shown once.
        operations.retain(|o| !queued.iter().any(|q| q.operation == o.id));
        Ok((queued, operations))
    }

    /// The latest `limit` operations of `kind` of `tenant`, newest first (at most
    /// [`carnac_catalog::MAX_OPERATIONS_PAGE`]).
    pub fn recent_operations(
        &self,
        tenant: &TenantId,
        kind: carnac_model::journal::EventKind,
        limit: u64,
    ) -> Result<Vec<Operation>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.operations_page(
            tenant,
            &OperationPage {
                kind,
                status: None,
                agent: None,
                before: None,
                limit,
            },
        )?)
    }

    /// What the tenant's accepted ingests brought in, by year of deposit, the latest first.
    pub fn intake_by_year(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<carnac_catalog::YearIntake>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.intake_by_year(tenant)?)
    }

    /// How many units, groups, files and copies `tenant` holds.
    pub fn counts(&self, tenant: &TenantId) -> Result<carnac_catalog::Counts, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.counts(tenant)?)
    }

    /// Where `tenant`'s proof stands (see [`IntegrityState`]): three reads of an index each.
    pub fn integrity_state(&self, tenant: &TenantId) -> Result<IntegrityState, ArchiveError> {
        self.require_tenant(tenant)?;
        let latest = |kind: carnac_model::journal::EventKind| {
            self.catalog
                .operations_page(
                    tenant,
                    &OperationPage {
                        kind,
                        status: None,
                        agent: None,
                        before: None,
                        limit: 1,
                    },
                )
                .map(|mut ops| ops.pop())
        };
        Ok(IntegrityState {
            last_audit: latest(carnac_model::journal::EventKind::Audit)?,
            last_seal: latest(carnac_model::journal::EventKind::JournalSeal)?,
            evidence_pending: self
                .catalog
                .pending_evidence(tenant, PENDING_COUNTED)?
                .len(),
        })
    }

    /// The acknowledgement of a transfer, once its manifest was read.
    pub fn acknowledgement(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<String>, ArchiveError> {
        Ok(self.catalog.acknowledgement(tenant, operation)?)
    }

    /// The current version of each referential the tenant has.
    pub fn current_referentials(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(ReferentialKind, ReferentialVersion)>, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut out = Vec::new();
        for kind in ReferentialKind::ALL {
            if let Some(r) = self.catalog.referential(tenant, kind)? {
                out.push((kind, r));
            }
        }
        Ok(out)
    }

    /// Every version of one referential of the tenant, oldest first.
    pub fn referential_versions(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Vec<ReferentialVersionInfo>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.referential_versions(tenant, kind)?)
    }

    /// The stored file `object` of the tenant; NotFound for a physical object, or one the
    /// tenant does not hold.
    pub fn stored_file(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<StoredFile, ArchiveError> {
        let not_found = || ArchiveError::NotFound(format!("stored file {object}"));
        let (operation, row) = self.catalog.object(tenant, object)?.ok_or_else(not_found)?;
        match (row.size, row.digest, row.physical) {
            (Some(size), Some(digest), false) => Ok(StoredFile {
                tenant: tenant.clone(),
                object: object.clone(),
                operation,
                size,
                digest,
                mime_type: row.mime_type,
                filename: row.filename,
            }),
            _ => Err(not_found()),
        }
    }

    /// A reader of `length` bytes of `file` from `first`, from a copy of the right size.
    /// Read whole (`first` 0, `length` its size), it is verified on the way: its last bytes
    /// come only once the digest matched, and a copy that does not match ends in an error
    /// instead, so that a reader cannot take a damaged copy for good.
    pub fn open_object(
        &self,
        file: &StoredFile,
        first: u64,
        length: u64,
    ) -> Result<ObjectReader, ArchiveError> {
        self.open_kept_blob(
            BlobKey {
                tenant: file.tenant.clone(),
                batch: file.operation.clone(),
                name: file.object.to_string(),
            },
            file.size,
            file.digest.clone(),
            file.object.to_string(),
            first,
            length,
        )
    }

    /// A reader of `length` bytes from `first` of the blob `key`, from a copy of `size`
    /// bytes, verified against `digest` when read whole (see [`Archive::open_object`]);
    /// `label` names it in errors and logs.
    pub(crate) fn open_kept_blob(
        &self,
        key: BlobKey,
        size: u64,
        digest: Digest,
        label: String,
        first: u64,
        length: u64,
    ) -> Result<ObjectReader, ArchiveError> {
        let offer = self
            .offers
            .iter()
            .find(|o| o.size(&key).is_ok_and(|s| s == size))
            .ok_or_else(|| {
                tracing::error!(tenant = %key.tenant, blob = %label, "no copy of the right size");
                ArchiveError::io(
                    format!("reading {label}"),
                    std::io::Error::other("no copy has its recorded size: run the audit"),
                )
            })?;
        let reader = offer.open(&key)?;
        let whole = first == 0 && length == size;
        Ok(ObjectReader {
            inner: reader,
            offer: offer.name().to_owned(),
            tenant: key.tenant,
            label,
            hasher: whole.then(|| MultiHasher::new(&[digest.algorithm])),
            digest,
            size,
            position: 0,
            first,
            end: first.saturating_add(length),
            held: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            buf: vec![0u8; 1 << 16],
            finished: false,
        })
    }
}

/// The bytes of a stored file, read once from one copy (see [`Archive::open_object`]).
pub struct ObjectReader {
    inner: Box<dyn Read + Send>,
    offer: String,
    tenant: TenantId,
    /// What it is, for errors and logs (the object's identifier).
    label: String,
    /// Present when the whole file is read: then it is verified.
    hasher: Option<MultiHasher>,
    digest: Digest,
    size: u64,
    /// Bytes read from the copy so far.
    position: u64,
    first: u64,
    end: u64,
    /// The last chunk read, held back until the next one (or the verified end).
    held: Vec<u8>,
    ready: Vec<u8>,
    ready_at: usize,
    buf: Vec<u8>,
    finished: bool,
}

impl ObjectReader {
    /// The offer the bytes come from.
    pub fn offer(&self) -> &str {
        &self.offer
    }

    fn end_of_copy(&mut self) -> std::io::Result<()> {
        if let Some(hasher) = self.hasher.take() {
            let good = hasher.finish().contains(&self.digest);
            if !good || self.position != self.size {
                tracing::error!(tenant = %self.tenant, blob = %self.label, offer = %self.offer,
                    "a copy does not match its digest: read cut; run the audit");
                return Err(std::io::Error::other(format!(
                    "the copy of {} in {} does not match its digest: run the audit",
                    self.label, self.offer
                )));
            }
        }
        self.ready = std::mem::take(&mut self.held);
        self.ready_at = 0;
        self.finished = true;
        Ok(())
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.ready_at < self.ready.len() {
                let n = out.len().min(self.ready.len() - self.ready_at);
                out[..n].copy_from_slice(&self.ready[self.ready_at..self.ready_at + n]);
                self.ready_at += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.hasher.is_none() && self.position >= self.end {
                self.end_of_copy()?;
                continue;
            }
            let n = match self.inner.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.end_of_copy()?;
                continue;
            }
            let chunk = &self.buf[..n];
            if let Some(h) = self.hasher.as_mut() {
                h.update(chunk);
            }
            let (from, to) = (self.position, self.position + n as u64);
            self.position = to;
            let (a, b) = (self.first.max(from), self.end.min(to));
            if a < b {
                let part = chunk[(a - from) as usize..(b - from) as usize].to_vec();
                // One chunk held back: the last is given only once the digest is known good.
                self.ready = std::mem::replace(&mut self.held, part);
                self.ready_at = 0;
            }
        }
    }
}

/// One line of a unit's descriptive metadata laid out for reading: an element at its depth,
/// its name, and its text when it has some (attributes as `name=value` after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataLine {
    pub depth: usize,
    pub name: String,
    pub text: Option<String>,
}

/// The lines [`outline`] gives at most, and the length of a text it keeps.
pub const OUTLINE_LINES: usize = 2000;
const OUTLINE_TEXT: usize = 4000;

/// A unit's metadata (its SEDA `Content` as the catalog keeps it) as lines to read, in the
/// order of the XML: every element with its depth, name (without namespace prefix) and text.
/// What cannot be read ends the outline there: it shows what came before. At most
/// [`OUTLINE_LINES`] lines, each text at most a few thousand characters.
pub fn outline(xml: &str) -> Vec<MetadataLine> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut lines: Vec<MetadataLine> = Vec::new();
    // The line of each open element.
    let mut open: Vec<usize> = Vec::new();
    let name_of = |raw: &[u8]| {
        let name = String::from_utf8_lossy(raw);
        name.rsplit(':').next().unwrap_or_default().to_owned()
    };
    let attributes = |e: &quick_xml::events::BytesStart<'_>| {
        e.attributes()
            .filter_map(Result::ok)
            .filter(|a| !a.key.as_ref().starts_with(b"xmlns"))
            .map(|a| {
                format!(
                    "{}={}",
                    name_of(a.key.as_ref()),
                    a.unescape_value().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
    };
    // The text of the element open last, gathered across its pieces (text, references,
    // CDATA), given to its line when something else begins or it ends.
    let mut pending = String::new();
    let flush = |pending: &mut String, lines: &mut Vec<MetadataLine>, open: &[usize]| {
        let text = pending.trim();
        if let (false, Some(&i)) = (text.is_empty(), open.last()) {
            let mut kept: String = text.chars().take(OUTLINE_TEXT).collect();
            if kept.len() < text.len() {
                kept.push('…');
            }
            let line = &mut lines[i];
            line.text = Some(match line.text.take() {
                Some(before) => format!("{before} {kept}"),
                None => kept,
            });
        }
        pending.clear();
    };
    while lines.len() < OUTLINE_LINES {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                flush(&mut pending, &mut lines, &open);
                let attrs = attributes(&e);
                open.push(lines.len());
                lines.push(MetadataLine {
                    depth: open.len() - 1,
                    name: name_of(e.name().as_ref()),
                    text: (!attrs.is_empty()).then(|| attrs.join(" ")),
                });
            }
            Ok(Event::Empty(e)) => {
                flush(&mut pending, &mut lines, &open);
                let attrs = attributes(&e);
                lines.push(MetadataLine {
                    depth: open.len(),
                    name: name_of(e.name().as_ref()),
                    text: (!attrs.is_empty()).then(|| attrs.join(" ")),
                });
            }
            Ok(Event::Text(t)) => {
                if let Ok(s) = t.decode()
                    && pending.len() < OUTLINE_TEXT * 4
                {
                    pending
                        .push_str(&quick_xml::escape::unescape(&s).unwrap_or_else(|_| s.clone()));
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => r.decode().ok().and_then(|name| {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                    }),
                };
                pending.push_str(&text.unwrap_or_default());
            }
            Ok(Event::CData(t)) => {
                if pending.len() < OUTLINE_TEXT * 4 {
                    pending.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::End(_)) => {
                flush(&mut pending, &mut lines, &open);
                open.pop();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    lines
}

#[cfg(test)]
mod outline_tests {
    use super::*;

    #[test]
    fn metadata_is_laid_out_element_by_element() {
        let xml = r#"<Content xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2"><Title>Délibération &lt;b&gt;</Title><Keyword><KeywordContent>voirie</KeywordContent></Keyword><Description lang="fr">Le conseil</Description><Empty a="1"/></Content>"#;
        let lines = outline(xml);
        let view: Vec<(usize, &str, Option<&str>)> = lines
            .iter()
            .map(|l| (l.depth, l.name.as_str(), l.text.as_deref()))
            .collect();
        assert_eq!(
            view,
            [
                (0, "Content", None),
                (1, "Title", Some("Délibération <b>")),
                (1, "Keyword", None),
                (2, "KeywordContent", Some("voirie")),
                (1, "Description", Some("lang=fr Le conseil")),
                (1, "Empty", Some("a=1")),
            ]
        );
    }

    #[test]
    fn an_outline_is_bounded_and_stops_at_what_cannot_be_read() {
        let many = format!("<C>{}</C>", "<T>x</T>".repeat(OUTLINE_LINES * 2));
        assert_eq!(outline(&many).len(), OUTLINE_LINES);
        let long = format!("<T>{}</T>", "é".repeat(OUTLINE_TEXT * 2));
        let text = outline(&long)[0].text.clone().unwrap();
        assert_eq!(text.chars().count(), OUTLINE_TEXT + 1);
        let broken = outline("<A><B>one</B></C><D>two</D>");
        assert!(broken.iter().any(|l| l.name == "B"));
        assert!(!broken.iter().any(|l| l.name == "D"), "{broken:?}");
    }
}
