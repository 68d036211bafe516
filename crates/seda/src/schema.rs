//! Validation of manifests with libxml2: the official SEDA XSDs (embedded in the binary) and
//! archive profiles (RelaxNG or XSD) supplied by the referentials.
//!
//! libxml2 loads everything through input callbacks that we register once: the embedded
//! schemas answer `carnac-seda:///…` and the two W3C URLs the SEDA XSDs import; every other
//! `http`, `https` or `ftp` URL gets an empty document, so no validation can reach the network.
//! XSD validation streams the manifest (SAX), so memory stays flat whatever its size; each
//! schema is compiled once per thread (a cold compile costs up to ~90 ms).

use crate::SedaVersion;
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Once;

/// One validation error: where and what, in libxml2's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub line: Option<i32>,
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaLoadError {
    #[error("the schema does not compile: {0}")]
    Invalid(String),
}

const SCHEME: &str = "carnac-seda:///";

macro_rules! embed {
    ($($v:literal),*) => {
        &[$(
            (concat!("seda-", $v, "/seda-", $v, "-main.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-main.xsd")).as_slice()),
            (concat!("seda-", $v, "/seda-", $v, "-types.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-types.xsd")).as_slice()),
            (concat!("seda-", $v, "/seda-", $v, "-technical.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-technical.xsd")).as_slice()),
            (concat!("seda-", $v, "/seda-", $v, "-management.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-management.xsd")).as_slice()),
            (concat!("seda-", $v, "/seda-", $v, "-descriptive.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-descriptive.xsd")).as_slice()),
            (concat!("seda-", $v, "/seda-", $v, "-ontology.xsd"), include_bytes!(concat!("../schemas/seda-", $v, "/seda-", $v, "-ontology.xsd")).as_slice()),
        )*]
    };
}

static EMBEDDED: &[(&str, &[u8])] = embed!("2.1", "2.2", "2.3");
/// The SEDA 1.0 schemas (official, from the SIAF), every file they include or import.
static SEDA_1_0: &[(&str, &[u8])] = &[
    (
        "seda-1.0/seda_v1-0.xsd",
        include_bytes!("../schemas/seda-1.0/seda_v1-0.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/UnqualifiedDataType_10p0.xsd",
        include_bytes!("../schemas/seda-1.0/v10/UnqualifiedDataType_10p0.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/XAdESv141.xsd",
        include_bytes!("../schemas/seda-1.0/v10/XAdESv141.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/IANA_CharacterSetCode_20101104.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/IANA_CharacterSetCode_20101104.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/IANA_MIMEMediaType_20110216.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/IANA_MIMEMediaType_20110216.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/ISO_ISO3AlphaCurrencyCode_20110218.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/ISO_ISO3AlphaCurrencyCode_20110218.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/ISO_ISOTwoletterCountryCode_SecondEdition2006VI-8.xsd",
        include_bytes!(
            "../schemas/seda-1.0/v10/codes/ISO_ISOTwoletterCountryCode_SecondEdition2006VI-8.xsd"
        )
        .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/UNECE_AgencyIdentificationCode_D10A.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/UNECE_AgencyIdentificationCode_D10A.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/UNECE_CharacterSetEncodingCode_40106.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/UNECE_CharacterSetEncodingCode_40106.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/UNECE_CommunicationMeansTypeCode_D10A.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/UNECE_CommunicationMeansTypeCode_D10A.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/UNECE_MeasurementUnitCommonCode_7.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/UNECE_MeasurementUnitCommonCode_7.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_accessrestriction_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_accessrestriction_code.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_appraisal_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_appraisal_code.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_authorisationReason_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_authorisationReason_code.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_descriptionlevel_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_descriptionlevel_code.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_documenttype_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_documenttype_code.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_filetype_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_filetype_code.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_keywordtype_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_keywordtype_code.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_language_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_language_code.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/codes/seda_v1-0_unitidentifier_code.xsd",
        include_bytes!("../schemas/seda-1.0/v10/codes/seda_v1-0_unitidentifier_code.xsd")
            .as_slice(),
    ),
    (
        "seda-1.0/v10/othermetadata.xsd",
        include_bytes!("../schemas/seda-1.0/v10/othermetadata.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_QualifiedDataType.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_QualifiedDataType.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_acknowledgement.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_acknowledgement.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archive.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archive.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archivedelivery.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archivedelivery.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archivedestruction.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archivedestruction.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archivemodification.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archivemodification.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archiverestitution.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archiverestitution.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archivetransfer.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archivetransfer.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_archivetransferrequest.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_archivetransferrequest.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_authorization.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_authorization.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_organization.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_organization.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/seda_v1-0_signature.xsd",
        include_bytes!("../schemas/seda-1.0/v10/seda_v1-0_signature.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/xades.xsd",
        include_bytes!("../schemas/seda-1.0/v10/xades.xsd").as_slice(),
    ),
    (
        "seda-1.0/v10/xmldsig-core-schema.xsd",
        include_bytes!("../schemas/seda-1.0/v10/xmldsig-core-schema.xsd").as_slice(),
    ),
];
/// The SEDA 0.2 schemas (official, from the ADAE/SIAF), every file they include or import.
static SEDA_0_2: &[(&str, &[u8])] = &[
    (
        "seda-0.2/seda_v0-2.xsd",
        include_bytes!("../schemas/seda-0.2/seda_v0-2.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/UnqualifiedDataType_6p0.xsd",
        include_bytes!("../schemas/seda-0.2/v02/UnqualifiedDataType_6p0.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/XAdESv141.xsd",
        include_bytes!("../schemas/seda-0.2/v02/XAdESv141.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_QualifiedDataType.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_QualifiedDataType.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archive.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archive.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archivedelivery.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archivedelivery.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archivedestruction.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archivedestruction.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archivemodification.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archivemodification.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archiverestitution.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archiverestitution.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archivetransfer.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archivetransfer.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_archivetransferrequest.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_archivetransferrequest.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_hashcode.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_hashcode.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_organization.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_organization.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/archives_echanges_v0-2_signature.xsd",
        include_bytes!("../schemas/seda-0.2/v02/archives_echanges_v0-2_signature.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/codes/IANA_CharacterSetCode_20070514.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/IANA_CharacterSetCode_20070514.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/IANA_MIMEMediaType_20081112.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/IANA_MIMEMediaType_20081112.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/codes/ISO_ISO3AlphaCurrencyCode_20081112.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/ISO_ISO3AlphaCurrencyCode_20081112.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/ISO_ISOTwoletterCountryCode_SecondEdition2006VI-3.xsd",
        include_bytes!(
            "../schemas/seda-0.2/v02/codes/ISO_ISOTwoletterCountryCode_SecondEdition2006VI-3.xsd"
        )
        .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/UNECE_AgencyIdentificationCode_D08A.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/UNECE_AgencyIdentificationCode_D08A.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/UNECE_CharacterSetEncodingCode_40106.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/UNECE_CharacterSetEncodingCode_40106.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/UNECE_MeasurementUnitCommonCode_5.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/UNECE_MeasurementUnitCommonCode_5.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_accessrestriction_code.xsd",
        include_bytes!(
            "../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_accessrestriction_code.xsd"
        )
        .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_appraisal_code.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_appraisal_code.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_descriptionlevel_code.xsd",
        include_bytes!(
            "../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_descriptionlevel_code.xsd"
        )
        .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_documenttype_code.xsd",
        include_bytes!(
            "../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_documenttype_code.xsd"
        )
        .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_filetype_code.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_filetype_code.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_keywordtype_code.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_keywordtype_code.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_language_code.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_language_code.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/codes/archives_echanges_v0-2_reply_code.xsd",
        include_bytes!("../schemas/seda-0.2/v02/codes/archives_echanges_v0-2_reply_code.xsd")
            .as_slice(),
    ),
    (
        "seda-0.2/v02/othermetadata.xsd",
        include_bytes!("../schemas/seda-0.2/v02/othermetadata.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/xades.xsd",
        include_bytes!("../schemas/seda-0.2/v02/xades.xsd").as_slice(),
    ),
    (
        "seda-0.2/v02/xmldsig-core-schema.xsd",
        include_bytes!("../schemas/seda-0.2/v02/xmldsig-core-schema.xsd").as_slice(),
    ),
];
static XML_XSD: &[u8] = include_bytes!("../schemas/seda-2.1/xml.xsd");
static XLINK_XSD: &[u8] = include_bytes!("../schemas/seda-2.1/xlink.xsd");

fn resolve(url: &str) -> Option<Vec<u8>> {
    if let Some(name) = url.strip_prefix(SCHEME) {
        return EMBEDDED
            .iter()
            .chain(SEDA_1_0)
            .chain(SEDA_0_2)
            .find(|(n, _)| *n == name)
            .map(|(_, bytes)| bytes.to_vec())
            .or_else(|| match name.rsplit('/').next() {
                Some("xml.xsd") => Some(XML_XSD.to_vec()),
                Some("xlink.xsd") => Some(XLINK_XSD.to_vec()),
                _ => None,
            });
    }
    // The SEDA 1.0 and 0.2 data types import UN/CEFACT code lists by their public URL; the
    // same files ship with the schemas (a list both use is the same file in both).
    if let Some(name) = url
        .strip_prefix("http://www.unece.org/uncefact/codelist/standard/")
        .or_else(|| url.strip_prefix("http://www.unece.org/uncefact/identifierlist/standard/"))
    {
        let in_1_0 = format!("seda-1.0/v10/codes/{name}");
        let in_0_2 = format!("seda-0.2/v02/codes/{name}");
        if let Some((_, bytes)) = SEDA_1_0
            .iter()
            .chain(SEDA_0_2)
            .find(|(n, _)| *n == in_1_0 || *n == in_0_2)
        {
            return Some(bytes.to_vec());
        }
    }
    match url {
        "http://www.w3.org/2001/xml.xsd" => Some(XML_XSD.to_vec()),
        "http://www.w3.org/1999/xlink.xsd" => Some(XLINK_XSD.to_vec()),
        // Anything else remote becomes an empty document: a parse error, never a request.
        _ => Some(Vec::new()),
    }
}

fn is_ours(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    url.starts_with(SCHEME)
        || lower.starts_with("http:")
        || lower.starts_with("https:")
        || lower.starts_with("ftp:")
}

/// Initialises libxml2 and registers the input callbacks; idempotent. Call before any
/// libxml2 work on any thread.
#[allow(unsafe_code)]
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // libxml2 makes its global state (the catalog's mutex among it) lazily, on the first
        // parse of each kind: two threads that parse first at once race, and a catalog mutex
        // left locked makes the process hang in libxml2's destructor at exit. Made here, on
        // one thread, before any parse.
        // SAFETY: both take no argument and are idempotent; libxml2 asks that they run before
        // any other thread uses it, which the `Once` and the callers of `init` ensure.
        unsafe {
            libxml::bindings::xmlInitParser();
            libxml::bindings::xmlInitializeCatalog();
        }
        libxml::io::register_input_callback(is_ours, resolve)
    });
}

thread_local! {
    static COMPILED: RefCell<HashMap<SedaVersion, SchemaValidationContext>> = RefCell::new(HashMap::new());
}

fn to_errors(errors: Vec<libxml::error::StructuredError>) -> Vec<SchemaError> {
    errors
        .into_iter()
        .map(|e| SchemaError {
            line: e.line,
            message: e
                .message
                .unwrap_or_else(|| "unknown error".into())
                .trim()
                .to_owned(),
        })
        .collect()
}

fn compile_url(url: &str) -> Result<SchemaValidationContext, SchemaLoadError> {
    init();
    let mut parser = SchemaParserContext::from_file(url);
    SchemaValidationContext::from_parser(&mut parser).map_err(load_error)
}

fn load_error(errors: Vec<libxml::error::StructuredError>) -> SchemaLoadError {
    SchemaLoadError::Invalid(
        to_errors(errors)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn path_str(path: &Path) -> Result<&str, Vec<SchemaError>> {
    path.to_str().ok_or_else(|| {
        vec![SchemaError {
            line: None,
            message: "the manifest's temporary path is not UTF-8".into(),
        }]
    })
}

/// Validates the manifest at `path` against the official XSD of `version`, streaming.
/// libxml2 reads the file itself, which is why this takes a path: the ingest keeps the
/// manifest in one temporary file that every pass reads.
pub fn validate_seda(version: SedaVersion, path: &Path) -> Result<(), Vec<SchemaError>> {
    let path = path_str(path)?;
    COMPILED.with(|cell| {
        let mut map = cell.borrow_mut();
        let ctx = match map.entry(version) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let url = match version {
                    SedaVersion::V1_0 => format!("{SCHEME}seda-1.0/seda_v1-0.xsd"),
                    SedaVersion::V0_2 => format!("{SCHEME}seda-0.2/seda_v0-2.xsd"),
                    v => format!("{SCHEME}seda-{0}/seda-{0}-main.xsd", v.as_str()),
                };
                e.insert(compile_url(&url).map_err(|e| {
                    vec![SchemaError {
                        line: None,
                        message: e.to_string(),
                    }]
                })?)
            }
        };
        validate_xsd(ctx, path)
    })
}

/// The largest manifest validated against a RelaxNG profile. libxml2 validates RelaxNG on the
/// document's tree, which takes about six times the manifest's size in memory (73 MB for the
/// 11.7 MB manifest of 10,000 units): 64 MiB of manifest, some 50,000 units, take 400 MB.
/// Profiles constrain the transfers of one flow (acts, accounting files), which are small;
/// XSD profiles are validated streaming, at any size.
pub const MAX_RELAXNG_MANIFEST: u64 = 64 << 20;

/// An archive profile compiled for validation.
pub enum Profile {
    Xsd(SchemaValidationContext),
    RelaxNg(rng::RelaxNg),
}

impl Profile {
    pub fn xsd(bytes: &[u8]) -> Result<Profile, SchemaLoadError> {
        init();
        let mut parser = SchemaParserContext::from_buffer(bytes);
        SchemaValidationContext::from_parser(&mut parser)
            .map(Profile::Xsd)
            .map_err(load_error)
    }

    pub fn relax_ng(bytes: &[u8]) -> Result<Profile, SchemaLoadError> {
        init();
        rng::RelaxNg::compile(bytes).map(Profile::RelaxNg)
    }

    /// Validates the manifest at `path` against this profile. A RelaxNG profile validates
    /// manifests of at most [`MAX_RELAXNG_MANIFEST`] bytes.
    pub fn validate(&mut self, path: &Path) -> Result<(), Vec<SchemaError>> {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let path = path_str(path)?;
        match self {
            Profile::Xsd(ctx) => validate_xsd(ctx, path),
            Profile::RelaxNg(_) if size > MAX_RELAXNG_MANIFEST => Err(vec![SchemaError {
                line: None,
                message: format!(
                    "the manifest has {size} bytes, more than the {MAX_RELAXNG_MANIFEST} a RelaxNG profile is checked against (its validation holds the whole document in memory): split the transfer, or give its flow an XSD profile"
                ),
            }]),
            Profile::RelaxNg(rng) => rng.validate_file(path),
        }
    }
}

/// How many validation errors are kept; beyond, they are counted. libxml2 reports one error
/// per offending piece, and the `libxml` crate keeps every one: a 16 MB manifest of two
/// million text pieces where only elements belong made 2,000,000 errors and 600 MB.
pub const MAX_SCHEMA_ERRORS: usize = 100;

/// Errors as libxml2 reports them, the first [`MAX_SCHEMA_ERRORS`] kept, the others counted.
#[derive(Default)]
struct Collected {
    kept: Vec<SchemaError>,
    more: u64,
}

impl Collected {
    /// The errors kept, and one that says how many more there were.
    fn finish(self) -> Vec<SchemaError> {
        let mut errors = self.kept;
        if self.more > 0 {
            errors.push(SchemaError {
                line: None,
                message: format!("… and {} more errors", self.more),
            });
        }
        errors
    }
}

#[allow(unsafe_code)]
unsafe extern "C" fn collect(user: *mut std::ffi::c_void, error: libxml::bindings::xmlErrorPtr) {
    if user.is_null() || error.is_null() {
        return;
    }
    // SAFETY: `user` is the `Collected` passed with this callback, alive for the whole call
    // that can report errors; `error` is valid for the duration of this callback.
    let (sink, err) = unsafe { (&mut *(user as *mut Collected), &*error) };
    if sink.kept.len() >= MAX_SCHEMA_ERRORS {
        sink.more += 1;
        return;
    }
    let message = if err.message.is_null() {
        "unknown validation error".to_owned()
    } else {
        // SAFETY: libxml2 gives a NUL-terminated message.
        unsafe { std::ffi::CStr::from_ptr(err.message) }
            .to_string_lossy()
            .trim()
            .to_owned()
    };
    sink.kept.push(SchemaError {
        line: (err.line > 0).then_some(err.line),
        message,
    });
}

/// Validates the file at `path` with a compiled XSD, streaming, keeping the first errors
/// ([`Collected`]). Through the C API because the crate's own `validate_file` keeps every
/// error libxml2 reports.
#[allow(unsafe_code)]
fn validate_xsd(ctx: &mut SchemaValidationContext, path: &str) -> Result<(), Vec<SchemaError>> {
    use libxml::bindings as x;
    let c_path = std::ffi::CString::new(path).map_err(|_| {
        vec![SchemaError {
            line: None,
            message: "the manifest's path contains a NUL byte".into(),
        }]
    })?;
    let mut errors = Collected::default();
    // SAFETY: the context is valid for `ctx`'s life; our handler and its `Collected` are set
    // for this call only and removed before `errors` goes out of scope.
    let rc = unsafe {
        let v = ctx.as_ptr();
        x::xmlSchemaSetValidStructuredErrors(
            v,
            Some(collect),
            &mut errors as *mut Collected as *mut std::ffi::c_void,
        );
        let rc = x::xmlSchemaValidateFile(v, c_path.as_ptr(), 0);
        x::xmlSchemaSetValidStructuredErrors(v, None, std::ptr::null_mut());
        rc
    };
    let mut errors = errors.finish();
    match rc {
        0 => Ok(()),
        _ => {
            if errors.is_empty() {
                errors.push(SchemaError {
                    line: None,
                    message: format!("schema validation failed (status {rc})"),
                });
            }
            Err(errors)
        }
    }
}

/// RelaxNG through libxml2's C API: the `libxml` crate wraps XSD but not RelaxNG, and no other
/// crate validates RelaxNG, so this module calls the five functions it needs directly.
#[allow(unsafe_code)]
pub mod rng {
    use super::{Collected, SchemaError, SchemaLoadError, collect};
    use libxml::bindings as x;
    use libxml::parser::{Parser, ParserOptions};
    use std::ffi::c_void;

    pub struct RelaxNg {
        schema: x::xmlRelaxNGPtr,
    }

    impl RelaxNg {
        pub fn compile(bytes: &[u8]) -> Result<RelaxNg, SchemaLoadError> {
            let mut errors = Collected::default();
            let len = i32::try_from(bytes.len())
                .map_err(|_| SchemaLoadError::Invalid("profile too large".into()))?;
            // SAFETY: the buffer outlives the parser context, freed before returning.
            let schema = unsafe {
                let pctxt = x::xmlRelaxNGNewMemParserCtxt(bytes.as_ptr() as *const _, len);
                if pctxt.is_null() {
                    return Err(SchemaLoadError::Invalid(
                        "cannot create a RelaxNG parser".into(),
                    ));
                }
                x::xmlRelaxNGSetParserStructuredErrors(
                    pctxt,
                    Some(collect),
                    &mut errors as *mut Collected as *mut c_void,
                );
                let schema = x::xmlRelaxNGParse(pctxt);
                x::xmlRelaxNGFreeParserCtxt(pctxt);
                schema
            };
            if schema.is_null() {
                let text = errors
                    .finish()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(SchemaLoadError::Invalid(if text.is_empty() {
                    "the RelaxNG profile does not compile".into()
                } else {
                    text
                }));
            }
            Ok(RelaxNg { schema })
        }

        /// RelaxNG validation needs the document tree; profiles constrain the transfers of one
        /// flow (acts, accounting files), whose manifests are small.
        pub fn validate_file(&mut self, path: &str) -> Result<(), Vec<SchemaError>> {
            let parser = Parser::default();
            let options = ParserOptions {
                recover: false,
                no_net: true,
                no_def_dtd: true,
                ..ParserOptions::default()
            };
            let doc = parser.parse_file_with_options(path, options).map_err(|e| {
                vec![SchemaError {
                    line: None,
                    message: format!("the manifest cannot be parsed: {e:?}"),
                }]
            })?;
            let mut errors = Collected::default();
            // SAFETY: `schema` is a compiled RelaxNG owned by self; the document lives until
            // the end of this function; the context is freed before returning.
            let rc = unsafe {
                let vctxt = x::xmlRelaxNGNewValidCtxt(self.schema);
                if vctxt.is_null() {
                    return Err(vec![SchemaError {
                        line: None,
                        message: "cannot create a RelaxNG validation context".into(),
                    }]);
                }
                x::xmlRelaxNGSetValidStructuredErrors(
                    vctxt,
                    Some(collect),
                    &mut errors as *mut Collected as *mut c_void,
                );
                let rc = x::xmlRelaxNGValidateDoc(vctxt, doc.doc_ptr());
                x::xmlRelaxNGFreeValidCtxt(vctxt);
                rc
            };
            let mut errors = errors.finish();
            if rc == 0 {
                Ok(())
            } else {
                if errors.is_empty() {
                    errors.push(SchemaError {
                        line: None,
                        message: format!("RelaxNG validation failed (status {rc})"),
                    });
                }
                Err(errors)
            }
        }
    }

    impl Drop for RelaxNg {
        fn drop(&mut self) {
            // SAFETY: compiled by xmlRelaxNGParse and freed exactly once.
            unsafe { x::xmlRelaxNGFree(self.schema) }
        }
    }
}
