//! `carnac attestation`: deposit attestations exported, and verified without the archive.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;

use super::tenant;
use super::verify::trust_store;
use crate::args::AttestationCommand;

/// `attestation verify` needs no data folder.
pub(crate) fn offline(command: &AttestationCommand) -> Option<anyhow::Result<ExitCode>> {
    match command {
        AttestationCommand::Verify {
            document,
            signature,
            signer,
            trust,
        } => Some(verify(document, signature, signer, trust)),
        AttestationCommand::Export { .. } => None,
    }
}

pub(crate) fn run(archive: &Archive, command: AttestationCommand) -> anyhow::Result<ExitCode> {
    match command {
        AttestationCommand::Verify {
            document,
            signature,
            signer,
            trust,
        } => verify(&document, &signature, &signer, &trust),
        AttestationCommand::Export {
            tenant: t,
            operation,
            out,
        } => {
            let t = tenant(&t)?;
            let op: carnac_model::OperationId =
                operation.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            archive.export_attestation(&t, &op, &out)?;
            println!(
                "{}: {}",
                out.display(),
                carnac_archive::attestation::ATTESTATION_BLOBS.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit 2 when the attestation does not verify.
fn verify(
    document: &Path,
    signature: &Path,
    signer: &Path,
    trust: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let sig =
        std::fs::read(signature).with_context(|| format!("reading {}", signature.display()))?;
    let pem = std::fs::read(signer).with_context(|| format!("reading {}", signer.display()))?;
    let certs = x509_cert::Certificate::load_pem_chain(&pem)
        .map_err(|e| anyhow::anyhow!("{}: {e}", signer.display()))?;
    Ok(
        match carnac_archive::attestation::verify_attestation(
            document,
            &sig,
            &certs,
            &trust_store(trust)?,
        ) {
            Ok(v) => {
                println!(
                    "VALID: signed by {}, timestamped {} by {}",
                    v.signer, v.timestamp.gen_time_text, v.timestamp.tsa
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("INVALID: {e}");
                ExitCode::from(2)
            }
        },
    )
}
