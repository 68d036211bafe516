//! Bad input: each transfer is rejected with a reason that names the problem, and nothing of
//! it is left behind (no blob, no catalog row, no scratch file), but its operation and event.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_model::Status;
use common::*;
use std::io::Write;

const MANIFEST_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// A small valid SEDA 2.1 transfer's manifest naming one file, `Content/a.txt` ("hello").
fn valid_manifest() -> String {
    format!(
        r#"{MANIFEST_HEAD}
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <Date>2026-11-29T04:00:00</Date>
  <MessageIdentifier>hostile-test</MessageIdentifier>
  <ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
  <CodeListVersions>
    <ReplyCodeListVersion>v</ReplyCodeListVersion>
    <MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion>
    <FileFormatCodeListVersion>v</FileFormatCodeListVersion>
  </CodeListVersions>
  <DataObjectPackage>
    <BinaryDataObject id="O1">
      <DataObjectGroupId>G1</DataObjectGroupId>
      <DataObjectVersion>BinaryMaster_1</DataObjectVersion>
      <Uri>Content/a.txt</Uri>
      <MessageDigest algorithm="SHA-256">2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824</MessageDigest>
      <Size>5</Size>
    </BinaryDataObject>
    <DescriptiveMetadata>
      <ArchiveUnit id="U1">
        <Content><DescriptionLevel>Item</DescriptionLevel><Title>a</Title></Content>
        <DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference>
      </ArchiveUnit>
    </DescriptiveMetadata>
    <ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>A</Identifier></ArchivalAgency>
  <TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>"#
    )
}

fn zip(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn tar(members: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Ingests `bytes` and checks the rejection: the codes expected, and nothing kept.
fn rejected(
    f: &Fixture,
    t: &carnac_model::TenantId,
    bytes: &[u8],
    codes: &[&str],
) -> carnac_archive::IngestOutcome {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    let outcome = f
        .archive
        .ingest(t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert_eq!(
        outcome.status(),
        Status::Ko,
        "{:#?}",
        outcome.summary.reasons
    );
    let found: Vec<String> = outcome
        .summary
        .reasons
        .iter()
        .map(|r| format!("{}.{}", r.step, r.code))
        .collect();
    for c in codes {
        assert!(found.iter().any(|x| x == c), "expected {c} among {found:?}");
    }
    for r in &outcome.summary.reasons {
        assert!(!r.message.is_empty());
    }
    f.assert_nothing_stored(t);
    let last = f.archive.catalog().journal(t).unwrap().pop().unwrap();
    assert_eq!(
        (last.event.kind.as_str(), last.event.outcome),
        ("INGEST", Status::Ko)
    );
    outcome
}

fn setup() -> (Fixture, carnac_model::TenantId) {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    (f, t)
}

#[test]
fn the_valid_baseline_is_accepted() {
    let (f, t) = setup();
    let bytes = zip(
        &[
            ("manifest.xml", valid_manifest().as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&bytes).unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(
        outcome.status().is_accepted(),
        "{:#?}",
        outcome.summary.reasons
    );
    // tar.gz, detected by content whatever the name.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar(&[
        (b"manifest.xml", valid_manifest().as_bytes()),
        (b"Content/a.txt", b"hello"),
    ]))
    .unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&gz.finish().unwrap()).unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(
        outcome.status().is_accepted(),
        "{:#?}",
        outcome.summary.reasons
    );
}

#[test]
fn zip_slip() {
    let (f, t) = setup();
    let m = valid_manifest();
    let bytes = zip(
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", b"hello"),
            ("../../../../tmp/carnac-zip-slip", b"owned"),
            ("/etc/cron.d/x", b"owned"),
        ],
        zip::CompressionMethod::Stored,
    );
    let out = rejected(
        &f,
        &t,
        &bytes,
        &[
            "CHECK_CONTAINER.PATH_TRAVERSAL",
            "CHECK_CONTAINER.ABSOLUTE_PATH",
        ],
    );
    assert!(!std::path::Path::new("/tmp/carnac-zip-slip").exists());
    assert!(f.reply(&t, &out).contains("PATH_TRAVERSAL"));
}

#[test]
fn decompression_bomb() {
    let (f, t) = setup();
    // bzip2 turns 256 MiB of zeros into a few hundred bytes.
    let zeros = vec![0u8; 256 << 20];
    let inner = tar(&[
        (b"manifest.xml", valid_manifest().as_bytes()),
        (b"Content/a.txt", &zeros),
    ]);
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    bz.write_all(&inner).unwrap();
    let bytes = bz.finish().unwrap();
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    rejected(&f, &t, &bytes, &["CHECK_CONTAINER.CONTAINER_BOMB"]);

    // A deflated zip over a stricter configured ratio.
    let f = fixture_with(carnac_archive::IngestConfig {
        limits: carnac_container::Limits {
            max_ratio: 100,
            ..Default::default()
        },
        ..Default::default()
    });
    let t = f.tenant_with("0", "tenant-0");
    let bytes = zip(
        &[
            ("manifest.xml", valid_manifest().as_bytes()),
            ("Content/a.txt", &zeros[..64 << 20]),
        ],
        zip::CompressionMethod::Deflated,
    );
    rejected(&f, &t, &bytes, &["CHECK_CONTAINER.CONTAINER_BOMB"]);

    // A total over the configured limit.
    let f = fixture_with(carnac_archive::IngestConfig {
        limits: carnac_container::Limits {
            max_total_size: 1 << 20,
            ..Default::default()
        },
        ..Default::default()
    });
    let t = f.tenant_with("0", "tenant-0");
    let data = vec![7u8; 2 << 20];
    let bytes = tar(&[
        (b"manifest.xml", valid_manifest().as_bytes()),
        (b"Content/a.txt", &data),
    ]);
    rejected(&f, &t, &bytes, &["CHECK_CONTAINER.CONTAINER_BOMB"]);
}

#[test]
fn xxe_reads_nothing() {
    let (f, t) = setup();
    let secret = f.tmp.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let m = valid_manifest().replace(
        MANIFEST_HEAD,
        &format!(
            "{MANIFEST_HEAD}\n<!DOCTYPE ArchiveTransfer [<!ENTITY xxe SYSTEM \"file://{}\">]>",
            secret.display()
        ),
    );
    let m = m.replace(
        "<MessageIdentifier>hostile-test",
        "<MessageIdentifier>&xxe;",
    );
    let bytes = zip(
        &[("manifest.xml", m.as_bytes()), ("Content/a.txt", b"hello")],
        zip::CompressionMethod::Stored,
    );
    let out = rejected(&f, &t, &bytes, &["CHECK_SEDA.FORBIDDEN_DTD_OR_ENTITY"]);
    assert!(!f.reply(&t, &out).contains("TOP-SECRET"));
    assert!(
        !serde_json::to_string(&out.summary)
            .unwrap()
            .contains("TOP-SECRET")
    );
}

#[test]
fn billion_laughs() {
    let (f, t) = setup();
    let mut dtd = String::from("<!DOCTYPE ArchiveTransfer [<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        dtd.push_str(&format!(
            "<!ENTITY l{i} \"{}\">",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    dtd.push_str("]>");
    let m = valid_manifest()
        .replace(MANIFEST_HEAD, &format!("{MANIFEST_HEAD}\n{dtd}"))
        .replace("<MessageIdentifier>hostile-test", "<MessageIdentifier>&l9;");
    let bytes = zip(
        &[("manifest.xml", m.as_bytes()), ("Content/a.txt", b"hello")],
        zip::CompressionMethod::Stored,
    );
    rejected(&f, &t, &bytes, &["CHECK_SEDA.FORBIDDEN_DTD_OR_ENTITY"]);
}

#[test]
fn truncated_and_unknown_containers() {
    let (f, t) = setup();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let good = zip(
        &[
            ("manifest.xml", valid_manifest().as_bytes()),
            ("Content/a.txt", &data),
        ],
        zip::CompressionMethod::Deflated,
    );
    rejected(
        &f,
        &t,
        &good[..good.len() / 2],
        &["CHECK_CONTAINER.CONTAINER_CORRUPT"],
    );
    rejected(&f, &t, b"", &["CHECK_CONTAINER.CONTAINER_FORMAT"]);
    rejected(
        &f,
        &t,
        valid_manifest().as_bytes(),
        &["CHECK_CONTAINER.CONTAINER_FORMAT"],
    );
    // A tar cut in the middle of a member.
    let t_bytes = tar(&[
        (b"manifest.xml", valid_manifest().as_bytes()),
        (b"Content/a.txt", &data),
    ]);
    rejected(
        &f,
        &t,
        &t_bytes[..t_bytes.len() - 200_000],
        &["CHECK_CONTAINER.CONTAINER_CORRUPT"],
    );
}

#[test]
fn non_utf8_names_links_and_layout() {
    let (f, t) = setup();
    let bytes = tar(&[
        (b"manifest.xml", valid_manifest().as_bytes()),
        (b"Content/a.txt", b"hello"),
        (b"Content/\xe9t\xe9.txt", b"latin-1"),
    ]);
    rejected(&f, &t, &bytes, &["CHECK_CONTAINER.NAME_NOT_UTF8"]);

    let mut b = tar::Builder::new(Vec::new());
    let mut append = |name: &str, data: &[u8], kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        if kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    append(
        "manifest.xml",
        valid_manifest().as_bytes(),
        tar::EntryType::Regular,
    );
    append("Content/a.txt", b"hello", tar::EntryType::Regular);
    append("Content/passwd", b"", tar::EntryType::Symlink);
    rejected(
        &f,
        &t,
        &b.into_inner().unwrap(),
        &["CHECK_CONTAINER.LINK_OR_SPECIAL"],
    );

    let m = valid_manifest();
    let bytes = zip(
        &[
            ("manifest.xml", m.as_bytes()),
            ("other_manifest.xml", m.as_bytes()),
            ("Content/a.txt", b"hello"),
            ("stray.txt", b"x"),
        ],
        zip::CompressionMethod::Stored,
    );
    rejected(
        &f,
        &t,
        &bytes,
        &[
            "CHECK_CONTAINER.SEVERAL_MANIFESTS",
            "CHECK_CONTAINER.UNEXPECTED_ENTRY",
        ],
    );
    let bytes = zip(
        &[("Content/a.txt", b"hello")],
        zip::CompressionMethod::Stored,
    );
    rejected(&f, &t, &bytes, &["CHECK_CONTAINER.NO_MANIFEST"]);
}

#[test]
fn every_reason_is_listed_not_only_the_first() {
    let (f, t) = setup();
    let m = valid_manifest()
        .replace("ArchivalAgreement0", "NoSuchContract")
        .replace("FRAN_NP_009913", "NoSuchAgency")
        .replace("<Title>a</Title>", "<Title></Title>")
        .replace(
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            &"0".repeat(64),
        );
    let bytes = zip(
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", b"hello"),
            ("Content/undeclared.txt", b"?"),
        ],
        zip::CompressionMethod::Stored,
    );
    rejected(
        &f,
        &t,
        &bytes,
        &[
            "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN",
            "CHECK_HEADER.CHECK_AGENT.UNKNOWN",
            "CHECK_UNIT_SCHEMA.EMPTY_TITLE",
            "CHECK_DIGEST.KO",
            "CHECK_DATAOBJECTPACKAGE.MANIFEST_INFERIOR_BDO",
        ],
    );
}

#[test]
fn unknown_tenant_cannot_run() {
    let f = fixture();
    let r = f.archive.ingest_path(
        &tenant("nobody"),
        &testdata().join("seda/OK_SIP_2_GO.zip"),
        "test",
    );
    assert!(matches!(r, Err(carnac_archive::ArchiveError::NotFound(_))));
}

/// Issue 14 §3: a 3.6 KB zip whose manifest nests 400,000 elements kept its ingest RUNNING
/// for 46 s (the cost grew with the square of the depth), every other transfer waiting.
/// Refused now for its depth, with a reason that says so.
#[test]
fn deep_nesting_is_refused_for_its_depth() {
    let (f, t) = setup();
    let depth = 400_000;
    let manifest = valid_manifest().replace(
        "<Title>a</Title>",
        &format!(
            "<Title>a</Title>{}{}",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        ),
    );
    let bytes = zip(
        &[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    assert!(bytes.len() < 20_000, "{} bytes", bytes.len());
    let outcome = rejected(&f, &t, &bytes, &["CHECK_SEDA.MANIFEST_TOO_DEEP"]);
    let reason = outcome
        .summary
        .reasons
        .iter()
        .find(|r| r.code == "MANIFEST_TOO_DEEP")
        .unwrap();
    assert!(reason.message.contains("at most 256"), "{}", reason.message);
}

/// Ingests the valid manifest with `<Title>a</Title>` replaced, expects it rejected for
/// `code` before schema validation ran (whose errors would be listed too), and returns the
/// reason's message.
fn refused_before_validation(
    f: &Fixture,
    t: &carnac_model::TenantId,
    title: &str,
    code: &str,
) -> String {
    let manifest = valid_manifest().replace("<Title>a</Title>", title);
    let bytes = zip(
        &[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    let outcome = rejected(f, t, &bytes, &[&format!("CHECK_SEDA.{code}")]);
    let reasons = &outcome.summary.reasons;
    assert!(
        reasons.iter().all(|r| r.code != "NOT_XSD_VALID"),
        "{reasons:?}"
    );
    reasons
        .iter()
        .find(|r| r.code == code)
        .unwrap()
        .message
        .clone()
}

/// Issue 14, the class of §3: a 700 KB zip whose manifest puts 300,000 attributes on one
/// element held an ingest for minutes inside libxml2's schema validation (it compares each
/// attribute with those before it, and cannot be interrupted). A cheap walk refuses the
/// shape before the validation sees it; the reason names the element.
#[test]
fn an_element_with_thousands_of_attributes_is_refused_before_validation() {
    let (f, t) = setup();
    let attributes: String = (0..50_000).map(|i| format!(" a{i}=\"\"")).collect();
    let message = refused_before_validation(
        &f,
        &t,
        &format!("<Title{attributes}>a</Title>"),
        "MANIFEST_TOO_MANY_ATTRIBUTES",
    );
    assert!(
        message.contains("<Title> carries more than 64"),
        "{message}"
    );
}

/// Issue 14, the class of §3: 200 nested elements declaring 60 namespaces each, then a
/// million empty elements, made a 6 KB zip cost 3.7 s of uninterruptible validation (each
/// element's namespace is looked up among the twelve thousand declarations in scope; 0.26 s
/// without them), and a 4 GiB manifest would cost hours. Refused before validation.
#[test]
fn thousands_of_namespace_declarations_in_scope_are_refused_before_validation() {
    let (f, t) = setup();
    let declarations: String = (0..60)
        .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
        .collect();
    let nest = format!(
        "{}{}{}",
        format!("<x{declarations}>").repeat(200),
        "<b/>".repeat(100_000),
        "</x>".repeat(200)
    );
    refused_before_validation(
        &f,
        &t,
        &format!("<Title>a</Title>{nest}"),
        "MANIFEST_TOO_MANY_NAMESPACES",
    );
}

/// Issue 14, the class of §3: libxml2's validation gathers an element's text at a cost that
/// grows with the square of its length: a 300 MB description (a 3.8 MB zip) took 521 s and
/// 1.2 GB. Refused before validation, after reading about a mebibyte of it.
#[test]
fn a_description_of_megabytes_is_refused_before_validation() {
    let (f, t) = setup();
    let text = "a".repeat(4 << 20);
    let message = refused_before_validation(
        &f,
        &t,
        &format!("<Title>a</Title><Description>{text}</Description>"),
        "MANIFEST_TEXT_TOO_LONG",
    );
    assert!(message.contains("at <Description>"), "{message}");
}

/// Issue 14 §3: an ingest's time is bounded (its budget grows with its size); past it the
/// transfer is rejected, saying why, and nothing of it is kept.
#[test]
fn an_ingest_past_its_time_budget_is_rejected() {
    let f = fixture_with(carnac_archive::IngestConfig {
        time_budget: carnac_archive::ingest::TimeBudget {
            base: std::time::Duration::ZERO,
            bytes_per_second: u64::MAX,
        },
        ..Default::default()
    });
    let t = f.tenant_with("0", "tenant-0");
    let bytes = zip(
        &[
            ("manifest.xml", valid_manifest().as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    let outcome = rejected(&f, &t, &bytes, &["CHECK_TIME_BUDGET.TIME_BUDGET"]);
    let reply = f.reply(&t, &outcome);
    assert!(reply.contains("CHECK_TIME_BUDGET"), "{reply}");
}

/// Issue 14, the same class as §1: what a transfer chooses went into the journal and the
/// catalog at any size (a header identifier of megabytes, a million reasons in the ingest's
/// event). Identifiers are bounded (refused beyond, quoted short), and the summary and the
/// journal event keep the first reasons and their count; the reply keeps every one.
#[test]
fn a_transfer_cannot_make_the_journal_hold_what_it_wants() {
    let (f, t) = setup();
    let long = "M".repeat(100_000);
    let manifest = valid_manifest().replace(
        "<MessageIdentifier>hostile-test</MessageIdentifier>",
        &format!("<MessageIdentifier>{long}</MessageIdentifier>"),
    );
    let bytes = zip(
        &[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    rejected(&f, &t, &bytes, &["CHECK_HEADER.IDENTIFIER_TOO_LONG"]);
    let event = f.archive.catalog().journal(&t).unwrap().pop().unwrap();
    let size = serde_json::to_string(&event.event.detail).unwrap().len();
    assert!(size < 10_000, "{size} bytes in the journal");

    // 1,500 objects naming files the container does not hold: 1,500 reasons at least.
    let objects: String = (0..1500)
        .map(|i| format!(
            r#"<BinaryDataObject id="X{i}"><DataObjectGroupId>GX{i}</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/missing-{i}.txt</Uri><MessageDigest algorithm="SHA-256">2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824</MessageDigest><Size>5</Size></BinaryDataObject>"#
        ))
        .collect();
    let manifest = valid_manifest().replace(
        "<DescriptiveMetadata>",
        &format!("{objects}<DescriptiveMetadata>"),
    );
    let bytes = zip(
        &[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/a.txt", b"hello"),
        ],
        zip::CompressionMethod::Deflated,
    );
    let outcome = rejected(&f, &t, &bytes, &[]);
    assert_eq!(
        outcome.summary.reasons.len(),
        carnac_archive::ingest::MAX_SUMMARY_REASONS
    );
    assert!(
        outcome.summary.reasons_omitted >= 500,
        "{}",
        outcome.summary.reasons_omitted
    );
    let event = f.archive.catalog().journal(&t).unwrap().pop().unwrap();
    assert_eq!(
        event.event.detail["reasons"].as_array().unwrap().len(),
        carnac_archive::ingest::MAX_EVENT_REASONS
    );
    let total = event.event.detail["reasons_total"].as_u64().unwrap();
    assert!(total >= 1500, "{total}");
    // The reply lists every one.
    let reply = f.reply(&t, &outcome);
    assert!(reply.matches("missing-").count() >= 1500);
}
