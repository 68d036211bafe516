//! The documents of an elimination's steps: written to every offer under the step's
//! operation (their digests in its summary), read back checked; the destruction
//! certificate, the visa given as a SEDA reply, and the bordereau page.

use super::*;

/// A document of a step: in memory (a short message) or a file (a certificate listing every
/// unit).
pub(crate) enum Document<'a> {
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

impl Archive {
    /// Writes `documents` to every offer under `operation` (recorded as running first): their
    /// digests, for the operation's summary. On failure nothing stays.
    pub(crate) fn store_documents(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        documents: &[(&str, &[u8])],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ArchiveError> {
        let docs: Vec<(&str, Document<'_>)> = documents
            .iter()
            .map(|(n, b)| (*n, Document::Bytes(b)))
            .collect();
        self.store_document_files(tenant, operation, kind, agent, &docs)
    }

    /// [`Archive::store_documents`], some documents being files (streamed, hashed on the way).
    pub(crate) fn store_document_files(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        documents: &[(&str, Document<'_>)],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ArchiveError> {
        self.catalog
            .start_operation(tenant, operation, &kind, &self.now(), agent)?;
        self.write_documents(tenant, operation, documents)
            .inspect_err(|e| self.abandon(tenant, operation, kind, agent, e))
    }

    /// Writes `documents` to every offer under `operation`, already recorded as running:
    /// their digests. On failure, what it wrote is left for the caller to discard.
    pub(crate) fn write_documents(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        documents: &[(&str, Document<'_>)],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ArchiveError> {
        let mut digests = serde_json::Map::new();
        let written = (|| -> Result<(), ArchiveError> {
            for (i, offer) in self.offers.iter().enumerate() {
                let mut batch = offer.begin(tenant, operation)?;
                for (name, doc) in documents {
                    if [
                        crate::delivery::PACKAGE_ZIP,
                        super::transfer_out::TRANSFER_ZIP,
                    ]
                    .contains(name)
                    {
                        // Removed once fetched or expired: a WORM offer must not keep it.
                        batch.lock(name, carnac_blobstore::Lock::Temporary);
                    }
                    let w = batch.create(name)?;
                    let mut hashing = crate::files::HashingWriter {
                        inner: w,
                        hasher: carnac_model::MultiHasher::new(&[
                            carnac_model::DigestAlgorithm::Sha256,
                        ]),
                    };
                    let io = |e| ArchiveError::io(format!("writing {name}"), e);
                    match doc {
                        Document::Bytes(b) => hashing.write_all(b).map_err(io)?,
                        Document::File(p) => {
                            let mut f = std::fs::File::open(p).map_err(io)?;
                            std::io::copy(&mut f, &mut hashing).map_err(io)?;
                        }
                    }
                    let crate::files::HashingWriter { inner, hasher } = hashing;
                    inner.finish()?;
                    let hex = hasher.finish().pop().map(|d| d.hex).unwrap_or_default();
                    match digests.get(*name) {
                        None if i == 0 => {
                            digests.insert((*name).to_owned(), serde_json::Value::String(hex));
                        }
                        Some(v) if v.as_str() == Some(hex.as_str()) => {}
                        _ => {
                            return Err(ArchiveError::Invalid(format!(
                                "{name} changed between two offers' copies"
                            )));
                        }
                    }
                }
                batch.commit()?;
            }
            Ok(())
        })();
        written.map(|()| digests)
    }

    /// Removes what a step wrote and closes its operation as failed.
    pub(crate) fn abandon(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        why: &ArchiveError,
    ) {
        for offer in &self.offers {
            let _ = offer.discard(tenant, operation);
        }
        let detail = serde_json::json!({"status": "KO", "reasons": [{"step": kind.to_string(), "code": "FAILURE", "message": why.to_string()}]});
        if let Err(e) = self.close_failed(tenant, operation, kind, agent, &detail) {
            tracing::error!(error = %e, %operation, "closing a failed elimination step");
        }
    }

    /// A document of an elimination's step (`request.xml`, `bordereau.html`, …), read from
    /// the first offer whose copy matches the digest its step recorded.
    pub fn elimination_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let operations = self.disposal_operations(tenant, id)?;
        self.kept_document(tenant, &operations, name, &format!("elimination {id}"))
    }

    /// The operations that may have written a disposal's documents: its proposal, then
    /// each step after.
    fn disposal_operations(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Vec<OperationId>, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        let mut operations = vec![row.id.clone()];
        operations.extend(
            row.steps
                .iter()
                .filter_map(|s| s.get("operation")?.as_str()?.parse::<OperationId>().ok()),
        );
        Ok(operations)
    }

    /// The document `name` that one of `operations` wrote beside its work (its digest in
    /// the operation's summary), read from the first offer whose copy matches it; `what`
    /// names their subject in errors.
    pub(crate) fn kept_document(
        &self,
        tenant: &TenantId,
        operations: &[OperationId],
        name: &str,
        what: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let mut bytes = Vec::new();
        self.copy_kept_document(tenant, operations, name, what, &mut |offer, key| {
            bytes.clear();
            offer
                .open(key)?
                .read_to_end(&mut bytes)
                .map_err(|e| ArchiveError::io(format!("reading {key} from {}", offer.name()), e))?;
            Ok(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)))
        })?;
        Ok(bytes)
    }

    /// Finds the document `name` of `operations` and hands each offer's copy to `copy`,
    /// which gives its SHA-256, until one matches the recorded digest.
    fn copy_kept_document(
        &self,
        tenant: &TenantId,
        operations: &[OperationId],
        name: &str,
        what: &str,
        copy: &mut dyn FnMut(
            &dyn carnac_blobstore::BlobStore,
            &carnac_blobstore::BlobKey,
        ) -> Result<String, ArchiveError>,
    ) -> Result<(), ArchiveError> {
        for op in operations {
            let Some(o) = self.catalog.operation(tenant, op)? else {
                continue;
            };
            let Some(expected) = o
                .summary
                .as_ref()
                .and_then(|s| s.get("documents")?.get(name)?.as_str().map(str::to_owned))
            else {
                continue;
            };
            let key = carnac_blobstore::BlobKey {
                tenant: tenant.clone(),
                batch: op.clone(),
                name: name.into(),
            };
            for offer in &self.offers {
                match copy(&**offer, &key) {
                    Ok(digest) if digest == expected => return Ok(()),
                    Ok(_) => {
                        tracing::warn!(%key, offer = offer.name(), "a damaged copy of a document")
                    }
                    Err(e) => {
                        tracing::warn!(%key, offer = offer.name(), error = %e, "a copy of a document unread")
                    }
                }
            }
            return Err(ArchiveError::State {
                code: "no_intact_copy",
                message: format!("no offer holds an intact copy of {name} of {what}"),
            });
        }
        Err(ArchiveError::NotFound(format!("{name} of {what}")))
    }

    /// Writes the document `name` of a disposal to `dest`, streamed and checked against
    /// its recorded digest on the way: `dest` appears only once a copy proved intact (a
    /// closure's certificate lists a whole tenant).
    pub fn save_elimination_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
        dest: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        let partial = dest.with_extension("partial");
        let _scratch = crate::files::Scratch(vec![partial.clone()]);
        let mut file = std::fs::File::create(&partial)
            .map_err(|e| ArchiveError::io(format!("writing {}", partial.display()), e))?;
        self.copy_elimination_document(tenant, id, name, &mut file)?;
        file.sync_all()
            .and_then(|()| std::fs::rename(&partial, dest))
            .map_err(|e| ArchiveError::io(format!("writing {}", dest.display()), e))
    }

    /// Copies the document `name` of a disposal into `file` (emptied first), streamed and
    /// checked against its recorded digest: on success `file` holds an intact copy, read
    /// from its start.
    pub fn copy_elimination_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
        file: &mut std::fs::File,
    ) -> Result<(), ArchiveError> {
        use std::io::Seek as _;
        let operations = self.disposal_operations(tenant, id)?;
        let io = |e| ArchiveError::io(format!("copying {name} of elimination {id}"), e);
        self.copy_kept_document(
            tenant,
            &operations,
            name,
            &format!("elimination {id}"),
            &mut |offer, key| {
                file.set_len(0).and_then(|()| file.rewind()).map_err(io)?;
                let mut out = std::io::BufWriter::new(&mut *file);
                let digests = crate::files::copy_hashed(
                    &mut offer.open(key)?,
                    &mut out,
                    &[carnac_model::DigestAlgorithm::Sha256],
                )
                .map_err(io)?;
                out.flush().map_err(io)?;
                Ok(digests
                    .into_iter()
                    .next()
                    .map(|d| d.hex)
                    .unwrap_or_default())
            },
        )?;
        file.rewind().map_err(io)
    }
}

/// Writes the certificate (`head` with the list of units destroyed, each with its files'
/// digests) one unit at a time; [`CertificateWriter::finish`] gives its SHA-256, for the
/// signature.
pub(super) struct CertificateWriter {
    out: crate::files::HashingWriter<std::io::BufWriter<std::fs::File>>,
    units: u64,
}

impl CertificateWriter {
    pub(super) fn create(
        path: &std::path::Path,
        head: &serde_json::Value,
    ) -> std::io::Result<CertificateWriter> {
        let file = std::fs::File::create(path)?;
        let mut out = crate::files::HashingWriter {
            inner: std::io::BufWriter::new(file),
            hasher: carnac_model::MultiHasher::new(&[carnac_model::DigestAlgorithm::Sha256]),
        };
        let head = head.to_string();
        // `{…head…, "units":[` : the head object opened up to append the list.
        write!(out, "{},\"units\":[", &head[..head.len() - 1])?;
        Ok(CertificateWriter { out, units: 0 })
    }

    pub(super) fn unit(&mut self, record: &serde_json::Value) -> std::io::Result<()> {
        let sep = if self.units == 0 { "" } else { "," };
        self.units += 1;
        write!(self.out, "{sep}{record}")
    }

    pub(super) fn finish(mut self) -> std::io::Result<Vec<u8>> {
        write!(self.out, "]}}")?;
        self.out.flush()?;
        let crate::files::HashingWriter { inner, hasher } = self.out;
        inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        hasher
            .finish()
            .pop()
            .and_then(|d| hex::decode(d.hex).ok())
            .ok_or_else(|| std::io::Error::other("hashing the certificate"))
    }
}

/// What the archive reads of a visa given as its SEDA reply.
pub(crate) struct VisaReply {
    pub(crate) identifier: String,
    pub(crate) request: String,
    pub(crate) granted: bool,
}

/// Reads an `AuthorizationControlAuthorityRequestReply`: valid against the elimination's
/// SEDA version, its identifier, the request it answers and its reply code (`OK` grants;
/// any other code refuses).
pub(crate) fn read_visa_reply(
    bytes: &[u8],
    version: SedaVersion,
) -> Result<VisaReply, ArchiveError> {
    const MAX: usize = 1 << 20;
    if bytes.len() > MAX {
        return Err(bad(vec![format!(
            "the reply has {} bytes; a visa has at most {MAX}",
            bytes.len()
        )]));
    }
    let dir = tempfile::tempdir().map_err(|e| ArchiveError::io("a scratch folder", e))?;
    let path = dir.path().join("visa.xml");
    std::fs::write(&path, bytes).map_err(|e| ArchiveError::io("writing the reply", e))?;
    if let Err(errors) = carnac_seda::schema::validate_seda(version, &path) {
        return Err(bad(errors
            .iter()
            .take(20)
            .map(|e| format!("SEDA {version} schema: {e}"))
            .collect()));
    }
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut identifier, mut request, mut code, mut root) = (None, None, None, None);
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e)) => {
                let name = e.local_name().as_ref().to_vec();
                if root.is_none() {
                    root = Some(name.clone());
                }
                path.push(name);
            }
            Ok(quick_xml::events::Event::End(_)) => {
                path.pop();
            }
            Ok(quick_xml::events::Event::Text(t)) if path.len() == 2 => {
                let text = t
                    .decode()
                    .map_err(|e| bad(vec![format!("the reply's text: {e}")]))?
                    .trim()
                    .to_owned();
                match path[1].as_slice() {
                    b"MessageIdentifier" => identifier = Some(text),
                    b"MessageRequestIdentifier" => request = Some(text),
                    b"ReplyCode" => code = Some(text),
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::DocType(_)) => {
                return Err(bad(vec!["the reply declares a DOCTYPE: refused".into()]));
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(bad(vec![format!("the reply is not well-formed XML: {e}")])),
        }
        buf.clear();
    }
    if root.as_deref() != Some(b"AuthorizationControlAuthorityRequestReply".as_slice()) {
        return Err(bad(vec![
            "the visa is an AuthorizationControlAuthorityRequestReply".into(),
        ]));
    }
    Ok(VisaReply {
        identifier: identifier.unwrap_or_default(),
        request: request.unwrap_or_default(),
        granted: code.as_deref() == Some("OK"),
    })
}

/// The bordereau d'élimination: what its page and its PDF show.
pub(super) struct Bordereau<'a> {
    pub(super) archive: &'a str,
    pub(super) tenant: &'a TenantId,
    pub(super) id: &'a OperationId,
    /// The date the analysis ran for.
    pub(super) at: &'a str,
    pub(super) producer: &'a str,
    pub(super) proposed: &'a [EliminationUnitRow],
    pub(super) excluded: &'a [EliminationUnitRow],
    pub(super) totals: &'a serde_json::Value,
}

/// The bordereau d'élimination as a page a person reads, prints and signs.
pub(super) fn bordereau_html(b: &Bordereau<'_>) -> String {
    let &Bordereau {
        archive,
        tenant,
        id,
        at,
        producer,
        proposed,
        excluded,
        totals,
    } = b;
    use crate::files::html_escape as e;
    let s = |v: &serde_json::Value| v.as_str().map(e).unwrap_or_default();
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Bordereau d\u{2019}élimination {id}</title>\
         <style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:2px 6px;font-size:small}}table{{border-collapse:collapse}}@media print{{a{{color:black}}}}</style></head><body>\n\
         <h1>Bordereau d\u{2019}élimination</h1>\n<table>\
         <tr><th>Service d\u{2019}archives</th><td>{archive}</td></tr><tr><th>Service producteur</th><td>{producer}</td></tr>\
         <tr><th>Tenant</th><td>{tenant}</td></tr><tr><th>Référence</th><td>{id}</td></tr>\
         <tr><th>Éligibilité au</th><td>{at}</td></tr>\
         <tr><th>Unités proposées</th><td>{units}</td></tr><tr><th>Fichiers</th><td>{objects}</td></tr><tr><th>Octets</th><td>{bytes}</td></tr></table>\n\
         <h2>Unités proposées à l\u{2019}élimination</h2>\n<table><tr><th>Identifiant</th><th>Intitulé</th><th>Dates extrêmes</th><th>Service producteur</th><th>Règle de DUA</th><th>Échéance</th><th>Fichiers</th><th>Octets</th></tr>\n",
        archive = e(archive),
        producer = e(producer),
        tenant = e(tenant.as_str()),
        id = e(id.as_str()),
        at = e(at),
        units = super::bordereau_pdf::french_number(&totals["units"]),
        objects = super::bordereau_pdf::french_number(&totals["objects"]),
        bytes = super::bordereau_pdf::french_number(&totals["bytes"]),
    );
    for u in proposed {
        let r = &u.record;
        let rules: Vec<String> = r["appraisal_rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["rule"].as_str().map(e))
            .collect();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e(&u.unit),
            s(&r["title"]),
            s(&r["start_date"]),
            s(&r["end_date"]),
            s(&r["originating_agency"]),
            rules.join(", "),
            s(&r["appraisal_end"]),
            super::bordereau_pdf::french_number(&r["objects"]),
            super::bordereau_pdf::french_number(&r["bytes"]),
        ));
    }
    out.push_str("</table>\n");
    if !excluded.is_empty() {
        out.push_str("<h2>Unités écartées</h2>\n<table><tr><th>Identifiant</th><th>Intitulé</th><th>Motif</th></tr>\n");
        for u in excluded {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e(&u.unit),
                s(&u.record["title"]),
                e(&reason_fr(u.reason.as_ref()))
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(
        "<h2>Visas</h2>\n<table><tr><th>Service producteur (accord)</th><th>Autorité de contrôle (visa, Code du patrimoine R212-14)</th></tr>\
         <tr><td style=\"height:6em;width:20em\">Date, nom, signature</td><td style=\"width:20em\">Date, nom, signature</td></tr></table>\n</body></html>\n",
    );
    out
}
