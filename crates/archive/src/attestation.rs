//! Deposit attestations: for each accepted transfer, what the archive received (the transfer,
//! its units, every file with its size and digest), as a JSON document signed by the archive
//! (detached CAdES-T signature: the archive's key, and a timestamp of the signature) and as an
//! HTML page for a person. The four files (`attestation.json`, `attestation.p7s`,
//! `attestation.html`, `signer.pem`) are kept in every offer under the attestation's
//! operation, and journaled.

use crate::files::{HashingWriter, Scratch, html_escape};
use crate::{Archive, ArchiveError};
use carnac_catalog::{OperationEnd, OperationState};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{DigestAlgorithm, MultiHasher, OperationId, Status, TenantId};
use carnac_timestamp::HashAlgorithm;
use carnac_timestamp::signature::Signer;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::io::Write;
use std::path::Path;

/// The files of an attestation, in every offer.
pub const ATTESTATION_BLOBS: [&str; 4] = [
    "attestation.json",
    "attestation.p7s",
    "attestation.html",
    "signer.pem",
];

pub const KIND: EventKind = EventKind::DepositAttestation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub operation: OperationId,
    /// The ingest it attests.
    pub of: OperationId,
    pub files: u64,
    /// SHA-256 of `attestation.json`.
    pub sha256: String,
    pub signed_at: String,
}

impl Archive {
    /// The archive's signing certificate (the anchor for its attestations).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Accepted ingests of `tenant` that have no attestation yet.
    pub fn unattested(&self, tenant: &TenantId) -> Result<Vec<OperationId>, ArchiveError> {
        let ops = self.catalog.operations(tenant)?;
        let attested: std::collections::BTreeSet<String> = ops
            .iter()
            .filter(|o| o.kind == KIND && o.status == Some(Status::Ok))
            .filter_map(|o| o.summary.as_ref()?.get("of")?.as_str().map(str::to_owned))
            .collect();
        Ok(ops
            .into_iter()
            .filter(|o| {
                o.kind == EventKind::Ingest
                    && o.state == OperationState::Done
                    && o.status.is_some_and(|s| s.is_accepted())
                    && !attested.contains(o.id.as_str())
            })
            .map(|o| o.id)
            .collect())
    }

    /// Makes, signs, timestamps and stores the attestation of the accepted ingest `of`.
    pub fn attest_deposit(
        &self,
        tenant: &TenantId,
        of: &OperationId,
        agent: &str,
    ) -> Result<Attestation, ArchiveError> {
        self.require_tenant(tenant)?;
        let ingest = self
            .catalog
            .operation(tenant, of)?
            .filter(|o| o.kind == EventKind::Ingest && o.status.is_some_and(|s| s.is_accepted()))
            .ok_or_else(|| ArchiveError::NotFound(format!("accepted ingest {of}")))?;
        let summary = ingest.summary.clone().unwrap_or_default();
        let operation = self.new_operation()?;
        let json_path = self.tmp.join(format!("{operation}.attestation.json"));
        let html_path = self.tmp.join(format!("{operation}.attestation.html"));
        let _scratch = Scratch(vec![json_path.clone(), html_path.clone()]);
        let io = |e: std::io::Error| ArchiveError::io("writing the attestation", e);

        // The JSON, hashed as it is written, and the HTML beside it, one pass over the files.
        let mut json = HashingWriter {
            inner: std::io::BufWriter::new(std::fs::File::create(&json_path).map_err(io)?),
            hasher: MultiHasher::new(&[DigestAlgorithm::Sha256]),
        };
        let mut html = std::io::BufWriter::new(std::fs::File::create(&html_path).map_err(io)?);
        let head = serde_json::json!({
            "attestation": "DEPOSIT",
            "format_version": 1,
            "archive": self.config.archival_agency,
            "tenant": tenant,
            "operation": of,
            "accepted_at": ingest.ended_at,
            "status": ingest.status,
            "seda_version": summary.get("seda_version"),
            "message_identifier": summary.get("message_identifier"),
            "units": summary.get("units"),
            "bytes": summary.get("bytes"),
            "manifest_sha256": summary.get("manifest_sha256"),
        });
        let head_text =
            serde_json::to_string(&head).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        // `{…head…, "files":[` : the head object opened up to append the list.
        write!(json, "{},\"files\":[", &head_text[..head_text.len() - 1]).map_err(io)?;
        write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Attestation de dépôt {op}</title>\
             <style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:2px 6px;font-size:small}}table{{border-collapse:collapse}}</style></head><body>\n\
             <h1>Attestation de dépôt</h1>\n<p>{archive} atteste avoir reçu et conservé le transfert ci-dessous.</p>\n<table>\
             <tr><th>Service d'archives</th><td>{archive}</td></tr><tr><th>Tenant</th><td>{tenant}</td></tr>\
             <tr><th>Opération</th><td>{op}</td></tr><tr><th>Identifiant du transfert</th><td>{msg}</td></tr>\
             <tr><th>Accepté le</th><td>{at}</td></tr><tr><th>Statut</th><td>{status}</td></tr>\
             <tr><th>Unités d'archives</th><td>{units}</td></tr><tr><th>Octets</th><td>{bytes}</td></tr>\
             <tr><th>Bordereau (SHA-256)</th><td>{manifest}</td></tr></table>\n\
             <h2>Fichiers</h2>\n<table><tr><th>Identifiant</th><th>Fichier</th><th>Taille</th><th>Empreinte</th><th>Format</th></tr>\n",
            op = html_escape(of.as_str()),
            archive = html_escape(&self.config.archival_agency),
            tenant = html_escape(tenant.as_str()),
            msg = html_escape(summary.get("message_identifier").and_then(|v| v.as_str()).unwrap_or("")),
            at = html_escape(ingest.ended_at.as_deref().unwrap_or("")),
            status = ingest.status.map(|s| s.as_str()).unwrap_or(""),
            units = summary.get("units").and_then(|v| v.as_u64()).unwrap_or(0),
            bytes = summary.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0),
            manifest = html_escape(summary.get("manifest_sha256").and_then(|v| v.as_str()).unwrap_or("")),
        )
        .map_err(io)?;
        let mut files = 0u64;
        let mut failed: Option<std::io::Error> = None;
        self.catalog
            .each_object_of_operation(tenant, of, &mut |o| {
                if failed.is_some() {
                    return Ok(());
                }
                let item = serde_json::json!({
                    "id": o.id,
                    "uri": o.uri,
                    "filename": o.filename,
                    "physical": o.physical,
                    "size": o.size,
                    "digest_algorithm": o.digest.as_ref().map(|d| d.algorithm.seda_name()),
                    "digest": o.digest.as_ref().map(|d| d.hex.clone()),
                    "format": o.puid,
                });
                let r =
                    write!(json, "{}{}", if files == 0 { "" } else { "," }, item).and_then(|()| {
                        writeln!(
                            html,
                            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
                            html_escape(o.id.as_str()),
                            html_escape(o.filename.as_deref().or(o.uri.as_deref()).unwrap_or("")),
                            o.size.map(|s| s.to_string()).unwrap_or_default(),
                            o.digest
                                .as_ref()
                                .map(|d| d.algorithm.seda_name())
                                .unwrap_or(""),
                            o.digest.as_ref().map(|d| d.hex.as_str()).unwrap_or(""),
                            html_escape(o.puid.as_deref().unwrap_or("")),
                        )
                    });
                if let Err(e) = r {
                    failed = Some(e);
                }
                files += 1;
                Ok(())
            })?;
        if let Some(e) = failed {
            return Err(io(e));
        }
        write!(json, "]}}").map_err(io)?;
        json.flush().map_err(io)?;
        let HashingWriter { inner, hasher } = json;
        drop(inner);
        let digest = hasher
            .finish()
            .pop()
            .and_then(|d| hex::decode(d.hex).ok())
            .ok_or_else(|| ArchiveError::Invalid("hashing the attestation".into()))?;

        let signature = self
            .signer
            .sign_detached(&digest, &|imprint| self.tsa(tenant).stamp(imprint))?;
        let stamp = carnac_timestamp::verify::read_tst_info(&{
            // The signature's own timestamp, for the page.
            let v = carnac_timestamp::signature::verify_detached(
                &signature,
                &digest,
                std::slice::from_ref(self.signer.certificate()),
                &self.trust(),
            )?;
            v.timestamp.token
        })?;
        let signed_at = carnac_timestamp::verify::rfc3339(stamp.gen_time.to_unix_duration());
        let sha256 = hex::encode(&digest);
        let qualified = stamp.policy != carnac_timestamp::BUILTIN_POLICY;
        write!(
            html,
            "</table>\n<p>{files} fichier(s). Version signée : <code>attestation.json</code> \
             (SHA-256 <code>{sha256}</code>), signature détachée <code>attestation.p7s</code> \
             (CMS, horodatée le {signed_at}{q}), certificat du signataire <code>signer.pem</code>.</p>\n\
             <p>Vérification : <code>carnac attestation verify attestation.json --signature attestation.p7s \
             --signer signer.pem --trust &lt;racine de l'horodatage&gt;</code></p>\n</body></html>\n",
            q = if qualified { "" } else { " par une autorité d'horodatage non qualifiée" },
        )
        .map_err(io)?;
        html.flush().map_err(io)?;
        drop(html);

        // Stored in every offer under the attestation's operation, then journaled with the
        // digest of each of its files, so that their copies are checked like any stored file.
        let (signer_pem, _) = self.signer.to_pem()?;
        let html_sha256 = {
            let mut f = std::fs::File::open(&html_path).map_err(io)?;
            let mut h = sha2::Sha256::new();
            std::io::copy(&mut f, &mut h).map_err(io)?;
            hex::encode(h.finalize())
        };
        let blobs = serde_json::json!({
            ATTESTATION_BLOBS[0]: sha256,
            ATTESTATION_BLOBS[1]: hex::encode(sha2::Sha256::digest(&signature)),
            ATTESTATION_BLOBS[2]: html_sha256,
            ATTESTATION_BLOBS[3]: hex::encode(sha2::Sha256::digest(signer_pem.as_bytes())),
        });
        self.catalog
            .start_operation(tenant, &operation, &KIND, &self.now(), agent)?;
        let stored = (|| -> Result<(), ArchiveError> {
            for offer in &self.offers {
                let mut batch = offer.begin(tenant, &operation)?;
                for (name, source) in [
                    (ATTESTATION_BLOBS[0], Source::File(&json_path)),
                    (ATTESTATION_BLOBS[1], Source::Bytes(&signature)),
                    (ATTESTATION_BLOBS[2], Source::File(&html_path)),
                    (ATTESTATION_BLOBS[3], Source::Bytes(signer_pem.as_bytes())),
                ] {
                    let mut w = batch.create(name)?;
                    match source {
                        Source::File(p) => {
                            let mut f = std::fs::File::open(p).map_err(io)?;
                            std::io::copy(&mut f, &mut w).map_err(io)?;
                        }
                        Source::Bytes(b) => w.write_all(b).map_err(io)?,
                    }
                    w.finish()?;
                }
                batch.commit()?;
            }
            let detail = serde_json::json!({
                "of": of,
                "files": files,
                "sha256": sha256,
                "signed_at": signed_at,
                "qualified_timestamp": qualified,
                "blobs_sha256": blobs,
            });
            let ended_at = self.now();
            let event = NewEvent {
                tenant: tenant.clone(),
                operation: operation.clone(),
                kind: KIND,
                outcome: Status::Ok,
                time: ended_at.to_string(),
                agent: agent.into(),
                detail: detail.clone(),
            };
            self.catalog.finish_operation(
                tenant,
                OperationEnd {
                    operation: &operation,
                    status: Status::Ok,
                    summary: &detail,
                    reply: None,
                    ended_at: &ended_at,
                    event: &event,
                },
            )?;
            Ok(())
        })();
        if let Err(e) = stored {
            for offer in &self.offers {
                let _ = offer.discard(tenant, &operation);
            }
            let why = serde_json::json!({"status": "KO", "reasons": [{"step": "ATTESTATION", "code": "FAILURE", "message": e.to_string()}]});
            if let Err(c) = self.close_failed(
                tenant,
                &operation,
                EventKind::DepositAttestation,
                agent,
                &why,
            ) {
                tracing::error!(error = %c, "closing the failed attestation");
            }
            return Err(e);
        }
        Ok(Attestation {
            operation,
            of: of.clone(),
            files,
            sha256,
            signed_at,
        })
    }

    /// Copies the attestation of the ingest `of` (from the first offer that has it) to `dir`.
    pub fn export_attestation(
        &self,
        tenant: &TenantId,
        of: &OperationId,
        dir: &Path,
    ) -> Result<(), ArchiveError> {
        self.require_tenant(tenant)?;
        let op = self
            .catalog
            .operations(tenant)?
            .into_iter()
            .rev()
            .find(|o| {
                o.kind == KIND
                    && o.status == Some(Status::Ok)
                    && o.summary
                        .as_ref()
                        .and_then(|s| s.get("of")?.as_str().map(str::to_owned))
                        == Some(of.to_string())
            })
            .ok_or_else(|| ArchiveError::NotFound(format!("attestation of {of}")))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| ArchiveError::io(format!("creating {}", dir.display()), e))?;
        for name in ATTESTATION_BLOBS {
            let key = carnac_blobstore::BlobKey {
                tenant: tenant.clone(),
                batch: op.id.clone(),
                name: name.into(),
            };
            let mut copied = false;
            for offer in &self.offers {
                if let Ok(mut r) = offer.open(&key) {
                    let mut f = std::fs::File::create(dir.join(name))
                        .map_err(|e| ArchiveError::io(format!("writing {name}"), e))?;
                    std::io::copy(&mut r, &mut f)
                        .map_err(|e| ArchiveError::io(format!("writing {name}"), e))?;
                    copied = true;
                    break;
                }
            }
            if !copied {
                return Err(ArchiveError::NotFound(format!("{name} of {}", op.id)));
            }
        }
        Ok(())
    }
}

enum Source<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// Checks an attestation document against its detached signature, the archive's certificate
/// and the TSA's trust anchors; returns who signed and when.
pub fn verify_attestation(
    document: &Path,
    signature: &[u8],
    signer: &[x509_cert::Certificate],
    tsa: &carnac_timestamp::TrustStore,
) -> Result<carnac_timestamp::signature::VerifiedSignature, ArchiveError> {
    let mut f = std::fs::File::open(document)
        .map_err(|e| ArchiveError::io(format!("reading {}", document.display()), e))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut f, &mut hasher)
        .map_err(|e| ArchiveError::io(format!("reading {}", document.display()), e))?;
    let digest = hasher.finalize().to_vec();
    debug_assert_eq!(digest.len(), HashAlgorithm::Sha256.output_len());
    Ok(carnac_timestamp::signature::verify_detached(
        signature, &digest, signer, tsa,
    )?)
}

/// The archive's signer kept in `dir` (`archive.pem`, `archive.key` readable by the owner
/// only), made at first use.
pub fn open_signer(
    dir: &Path,
    archive: &str,
    clock: &dyn crate::ports::Clock,
) -> Result<Signer, ArchiveError> {
    let (cert, key) = (dir.join("archive.pem"), dir.join("archive.key"));
    if cert.exists() {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| ArchiveError::io(format!("reading {}", p.display()), e))
        };
        return Ok(Signer::from_pem(&read(&cert)?, &read(&key)?)?);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ArchiveError::io(format!("creating {}", dir.display()), e))?;
    let now = std::time::Duration::from_secs(clock.now().unix_timestamp().max(0) as u64);
    let signer = Signer::create(archive, now)?;
    let (cert_pem, key_pem) = signer.to_pem()?;
    for (path, text, mode) in [(&key, &key_pem, 0o600), (&cert, &cert_pem, 0o644)] {
        crate::files::write_durably(path, text.as_bytes(), mode)
            .map_err(|e| ArchiveError::io(format!("writing {}", path.display()), e))?;
    }
    tracing::info!(dir = %dir.display(), "the archive's signing key was made");
    Ok(signer)
}
