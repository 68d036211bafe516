//! The as@lae-compatible intake as Pastell's connector meets it: bordereaux of SEDA 0.2,
//! 1.0 and 2.1, whole and in chunks, replies as as@lae writes them, and its role matrix.

use super::*;

// ---------------------------------------------------------------------------------------
// The as@lae-compatible intake, driven the way Pastell's "as@lae (REST)" connector does it.

/// A tenant fed by Pastell: the referentials its bordereaux name (agencies, contracts, the
/// SEDA 1.0 profiles of the bouquet), and a producer account with a password.
pub(crate) fn asalae_state(tmp: &tempfile::TempDir) -> Arc<AppState> {
    let st = state(tmp);
    let t = TenantId::new("pastell").unwrap();
    st.archive
        .create_tenant(&t, "Collectivité", "test")
        .unwrap();
    st.archive
        .import_referentials(&t, &testdata().join("asalae/referential"), "test")
        .unwrap();
    st.archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login: "pastell",
                role: Role::Producer,
                kind: carnac_model::access::AccountKind::Application,
                tenants: std::slice::from_ref(&t),
                password: Some("mot de passe"),
                token: false,
                certificate: None,
                agencies: &[],
            },
            "test",
        )
        .unwrap();
    st
}

/// What Pastell does before sending: it fills the bordereau from its connector settings and
/// the files (dates, identifiers, agencies, digests and sizes); here the fixtures'
/// placeholders and empty fields get such values, and each named file is made (a real PDF,
/// XML, text or JPEG by its extension) with its digest and size written back (in SEDA 0.2,
/// which gives digests at the root, an `Integrity` per file before the first archive).
pub(crate) fn pastell_transfer(name: &str, id: &str) -> (String, Vec<(String, Vec<u8>)>) {
    let dir = testdata().join("asalae/bordereaux");
    let mut xml = std::fs::read_to_string(dir.join(name)).unwrap();
    xml = xml
        .replace(
            "<Date>NOT TESTABLE</Date>",
            "<Date>2026-11-29T10:00:00+01:00</Date>",
        )
        .replace(
            ">NOT TESTABLE</TransferIdentifier>",
            &format!(">{id}</TransferIdentifier>"),
        );
    let re_id =
        regex::Regex::new(r"<TransferIdentifier([^>]*)>[^<]*</TransferIdentifier>").unwrap();
    xml = re_id
        .replace(
            &xml,
            format!("<TransferIdentifier$1>{id}</TransferIdentifier>"),
        )
        .into_owned();
    // Empty agencies and agreement, as the acts and PES fixtures leave them to the connector.
    let fill = |xml: String, agency: &str, value: &str| -> String {
        let re = regex::Regex::new(&format!(r"(?s)<{agency}>(\s*)<Identification\s*/>")).unwrap();
        re.replace(
            &xml,
            format!("<{agency}>$1<Identification>{value}</Identification>"),
        )
        .into_owned()
    };
    xml = fill(xml, "ArchivalAgency", "FRAD000");
    xml = fill(xml, "TransferringAgency", "PASTELL_DEMO");
    let agreement = if name.contains("helios") {
        "ACCORD_PES"
    } else {
        "ACCORD_ACTES"
    };
    let re = regex::Regex::new(r"<ArchivalAgreement([^>]*)/>").unwrap();
    xml = re
        .replace(
            &xml,
            format!("<ArchivalAgreement$1>{agreement}</ArchivalAgreement>"),
        )
        .into_owned();
    // The files, and their digests and sizes.
    let formats = testdata().join("formats");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let doc = regex::Regex::new(r"(?s)<Document>.*?</Document>").unwrap();
    let filename = regex::Regex::new(r#"filename="([^"]*)""#).unwrap();
    let integrity = regex::Regex::new(r"(<Integrity[^>]*>)[^<]*(</Integrity>)").unwrap();
    let size = regex::Regex::new(r"(<Size[^>]*>)[^<]*(</Size>)").unwrap();
    // SEDA 2.1 as Pastell writes it for as@lae: BinaryDataObject with Uri, MessageDigest, Size.
    let bdo = regex::Regex::new(r"(?s)<BinaryDataObject[^>]*>.*?</BinaryDataObject>").unwrap();
    let uri = regex::Regex::new(r"<Uri>([^<]*)</Uri>").unwrap();
    let message_digest =
        regex::Regex::new(r"(<MessageDigest[^>]*>)[^<]*(</MessageDigest>)").unwrap();
    xml = bdo
        .replace_all(&xml, |c: &regex::Captures<'_>| {
            let block = &c[0];
            let Some(u) = uri.captures(block) else {
                return block.to_owned();
            };
            let name = u[1].to_owned();
            let bytes = std::fs::read(formats.join(if name.ends_with(".xml") {
                "plain.xml"
            } else {
                "sip.pdf"
            }))
            .unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let block = message_digest.replace(block, format!("${{1}}{digest}${{2}}"));
            let block = size.replace(&block, format!("${{1}}{}${{2}}", bytes.len()));
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, bytes));
            }
            block.into_owned()
        })
        .into_owned();
    xml = doc
        .replace_all(&xml, |c: &regex::Captures<'_>| {
            let block = &c[0];
            let Some(f) = filename.captures(block) else {
                return block.to_owned();
            };
            let name = f[1].to_owned();
            let bytes = match name.rsplit('.').next().unwrap_or_default() {
                "pdf" => std::fs::read(formats.join("sip.pdf")).unwrap(),
                "xml" => std::fs::read(formats.join("plain.xml")).unwrap(),
                "jpg" | "jpeg" => std::fs::read(formats.join("lake.jpeg")).unwrap(),
                _ => format!("Pièce {name}\n").into_bytes(),
            };
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let block = integrity.replace(block, format!("${{1}}{digest}${{2}}"));
            let block = size.replace(&block, format!("${{1}}{}${{2}}", bytes.len()));
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, bytes));
            }
            block.into_owned()
        })
        .into_owned();
    if xml.contains(carnac_seda::SedaVersion::V0_2.namespace()) {
        let integrity: String = files
            .iter()
            .map(|(name, bytes)| {
                format!(
                    "<Integrity><Contains algorithme=\"http://www.w3.org/2001/04/xmlenc#sha256\">{}</Contains><UnitIdentifier>{name}</UnitIdentifier></Integrity>\n  ",
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
                )
            })
            .collect();
        let first = regex::Regex::new(r"(?s)</ArchivalAgency>\s*<Contains>").unwrap();
        xml = first
            .replace(&xml, format!("</ArchivalAgency>\n  {integrity}<Contains>"))
            .into_owned();
    }
    (xml, files)
}

pub(crate) use carnac_testkit::targz;

pub(crate) const BOUNDARY: &str = "----pastell-asalae-boundary";

/// A multipart/form-data body as PHP's curl builds it, with Pastell's boundary.
pub(crate) fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    carnac_testkit::multipart(BOUNDARY, fields)
}

/// Pastell's credentials: HTTP Basic with the SHA-256 hex of the password.
pub(crate) fn pastell_auth() -> String {
    use base64::Engine;
    let digest = carnac_archive::accounts::password_digest("mot de passe");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("pastell:{digest}"))
    )
}

pub(crate) fn pastell_post(uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, pastell_auth())
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap()
}

pub(crate) fn pastell_get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, pastell_auth())
        .body(Body::empty())
        .unwrap()
}

/// Sends a transfer as Pastell does (whole, or in chunks of `chunk` bytes), then polls the
/// acknowledgement and the reply until the reply comes; gives the reply.
/// How a test client sends the attachments: whole, in chunks of a size one after the other (as
/// Pastell does), or in a number of chunks all at the same time (as a client sending in
/// parallel would).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sending {
    Whole,
    Chunks(usize),
    ChunksAtOnce(usize),
}

/// Sends as Pastell's connector does, `url` being the connector's URL as configured: Pastell
/// appends `/ping`, `/sedaMessages`… to it, so that a URL ending in `/` makes `//`.
pub(crate) async fn pastell_sends(
    app: &Router,
    url: &str,
    bordereau: &str,
    files: &[(String, Vec<u8>)],
    sending: Sending,
) -> (String, String) {
    let origin = regex::Regex::new(r"(?s)<TransferringAgency>.*?<Identif\w+[^>]*>([^<]*)<")
        .unwrap()
        .captures(bordereau)
        .unwrap()[1]
        .to_owned();
    let id = regex::Regex::new(r"<(?:TransferIdentifier|MessageIdentifier)[^>]*>([^<]*)<")
        .unwrap()
        .captures(bordereau)
        .unwrap()[1]
        .to_owned();
    let archive = targz(files);
    let (status, body, _) = match sending {
        Sending::Whole => {
            send(
                app,
                pastell_post(
                    &format!("{url}/sedaMessages"),
                    multipart(&[
                        ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                        ("attachments", Some("archive.tar.gz"), &archive),
                    ]),
                ),
            )
            .await
        }
        Sending::Chunks(_) | Sending::ChunksAtOnce(_) => {
            let (status, body, _) = send(
                app,
                pastell_post(
                    &format!("{url}/sedaMessages"),
                    multipart(&[
                        ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                        ("send_chunked_attachments", None, b"true"),
                    ]),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let session = v["chunk_session_identifier"].as_str().unwrap().to_owned();
            let security = v["chunk_security_identifier"].as_str().unwrap().to_owned();
            let size = match sending {
                Sending::ChunksAtOnce(count) => archive.len().div_ceil(count),
                Sending::Chunks(size) => size,
                Sending::Whole => unreachable!("sent whole above"),
            };
            let chunks: Vec<&[u8]> = archive.chunks(size).collect();
            let n = chunks.len().to_string();
            let requests = chunks.iter().enumerate().map(|(i, c)| {
                pastell_post(
                    &format!("{url}/sedaAttachmentsChunkFiles"),
                    multipart(&[
                        ("chunk_content", Some("archive.tar.gz"), c),
                        ("session_identifier", None, session.as_bytes()),
                        ("security_identifier", None, security.as_bytes()),
                        ("number_of_files", None, b"1"),
                        ("file_index", None, b"1"),
                        ("file_name", None, b"archive.tar.gz"),
                        ("compression_algorithm", None, b"TARGZ"),
                        ("number_of_chunks", None, n.as_bytes()),
                        ("chunk_index", None, (i + 1).to_string().as_bytes()),
                    ]),
                )
            });
            let replies = if matches!(sending, Sending::ChunksAtOnce(_)) {
                let mut tasks = tokio::task::JoinSet::new();
                for (i, request) in requests.enumerate() {
                    let app = app.clone();
                    tasks.spawn(async move { (i, send(&app, request).await) });
                }
                let mut replies = tasks.join_all().await;
                replies.sort_by_key(|(i, _)| *i);
                replies.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
            } else {
                let mut replies = Vec::new();
                for request in requests {
                    replies.push(send(app, request).await);
                }
                replies
            };
            for (i, r) in replies.iter().enumerate() {
                assert_eq!(r.0, StatusCode::OK, "chunk {}: {}", i + 1, r.1);
            }
            // Exactly one chunk completes the transfer, whatever the order they came in.
            let mut completing: Vec<_> = replies
                .into_iter()
                .filter(|r| !r.1.contains("chunk_received"))
                .collect();
            assert_eq!(completing.len(), 1, "{completing:?}");
            completing.pop().unwrap()
        }
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&id), "{body}");
    let selector = |message: &str| {
        format!(
            "{url}/sedaMessages/sequence:ArchiveTransfer/message:{message}/originOrganizationIdentification:{origin}/originMessageIdentifier:{id}"
        )
    };
    let (status, ack, ct) = send(app, pastell_get(&selector("Acknowledgement"))).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert!(ct.unwrap().starts_with("application/xml"));
    // Where Pastell reads the transfer's identifier in the acknowledgement.
    let received = if bordereau.contains(carnac_seda::SedaVersion::V0_2.namespace()) {
        format!("<TransferIdentifier>{id}</TransferIdentifier>")
    } else {
        format!("<MessageReceivedIdentifier>{id}</MessageReceivedIdentifier>")
    };
    assert!(ack.contains(&received), "{ack}");
    // The reply, polled as Pastell does until it is there.
    for _ in 0..600 {
        let (status, atr, _) = send(app, pastell_get(&selector("ArchiveTransferReply"))).await;
        match status {
            StatusCode::OK => return (ack, atr),
            StatusCode::CONFLICT => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{other}: {atr}"),
        }
    }
    panic!("no reply after 30 s");
}

pub(crate) fn reply_code(atr: &str) -> String {
    regex::Regex::new(r"<ReplyCode[^>]*>([^<]*)<")
        .unwrap()
        .captures(atr)
        .map(|c| c[1].to_owned())
        .unwrap_or_default()
}

/// Every SEDA 1.0 bordereau of the bouquet whose profile is there goes through the intake,
/// whole and in chunks, and gets ReplyCode 000 with its archive identifier where Pastell reads
/// it; the archive holds its units and files, and the reply is valid SEDA 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_bordereaux_with_their_profile_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    // Pastell's ping decodes a JSON string and shows it as text, whatever its URL's end.
    for url in [
        "/restservices/ping",
        "/restservices//ping",
        "//restservices///ping",
    ] {
        let (status, body, _) = send(&app, Request::get(url).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer, crate::asalae::PING_ANSWER, "{url}");
    }
    for url in ["/restservices/versions", "/restservices//versions"] {
        let (status, body, _) = send(&app, pastell_get(url)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert!(body.contains("\"version\""), "{body}");
    }
    // The same merging everywhere, the query kept; an unknown path stays unknown.
    let (status, _, _) = send(
        &app,
        Request::get("//health?x=1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        &app,
        Request::get("/restservices//nothing")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cases = [
        (
            "actes-generique-bordereau-seda1.0-Profil_ACTES_AP_v3.xml",
            Sending::Whole,
        ),
        (
            "helios-generique-bordereau-seda1.0-Profil_PES_AP_v3.xml",
            Sending::ChunksAtOnce(16),
        ),
        ("dossier-marche-bordereau.xml", Sending::Chunks(64 * 1024)),
        ("pes-marche-bordereau.xml", Sending::Whole),
        ("fakeSeda-bordereau.xml", Sending::Chunks(4096)),
    ];
    let archive_identifier = regex::Regex::new(
        r"(?s)<Archive>\s*<ArchivalAgencyArchiveIdentifier>([^<]+)</ArchivalAgencyArchiveIdentifier>",
    )
    .unwrap();
    for (i, (name, chunk)) in cases.into_iter().enumerate() {
        let id = format!("PASTELL-{i}");
        let (bordereau, files) = pastell_transfer(name, &id);
        let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, chunk).await;
        assert_eq!(reply_code(&atr), "000", "{name}:\n{atr}");
        let archive_id = archive_identifier
            .captures(&atr)
            .unwrap_or_else(|| panic!("{name}: no archive identifier\n{atr}"))[1]
            .to_owned();
        // Both messages are valid SEDA 1.0.
        for xml in [&ack, &atr] {
            assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V1_0, xml);
        }
        // The identifier is the archive's unit, with every file stored below it.
        let t = TenantId::new("pastell").unwrap();
        let (unit, _) = st
            .archive
            .catalog()
            .unit(&t, &carnac_model::UnitId::new(archive_id.clone()).unwrap())
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: unit {archive_id} not in the catalog"));
        assert!(!unit.title.is_empty());
    }
    // The intake's transfers are in the tenant's journal, with who sent them.
    let t = TenantId::new("pastell").unwrap();
    let received: Vec<_> = st
        .archive
        .catalog()
        .journal(&t)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "TRANSFER_RECEIVED")
        .collect();
    assert_eq!(received.len(), 5);
    for e in received {
        assert_eq!(e.event.agent, "pastell");
        assert_eq!(e.event.detail["intake"], "asalae");
    }
}

/// A SEDA 2.1 transfer as Pastell writes it for as@lae (its test bordereau, with the
/// agreement its connector is configured with) gets as@lae's SEDA 2.1 reply: ReplyCode 000,
/// the transfer's identifier in MessageIdentifier, the reply's in MessageRequestIdentifier,
/// and the archive identifier in the DescriptiveMetadata; the rules Pastell names in SEDA 1.0
/// words (P10Y, AR038) come from the tenant's referential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_seda_2_1_gets_the_asalae_2_1_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    let (bordereau, files) = pastell_transfer("bordereau-seda2.1-pastell-sae-test.xml", "unused");
    assert_eq!(files.len(), 1);
    let bordereau = bordereau.replace(
        "</MessageIdentifier>",
        "</MessageIdentifier>\n    <ArchivalAgreement>ACCORD_PASTELL_21</ArchivalAgreement>",
    );
    let archive_identifier = regex::Regex::new(
        r"(?s)<DataObjectPackage>\s*<DescriptiveMetadata>\s*<ArchiveUnit[^>]*>\s*<Content>.*?<ArchivalAgencyArchiveUnitIdentifier>([^<]+)<",
    )
    .unwrap();
    for chunk in [Sending::Whole, Sending::Chunks(10_000)] {
        let bordereau = bordereau.replace(
            "22c2c40b-d2ff-4e45-a573-358edbc175a7</MessageIdentifier>",
            &format!(
                "22c2c40b-{}</MessageIdentifier>",
                matches!(chunk, Sending::Chunks(_))
            ),
        );
        let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, chunk).await;
        assert_eq!(reply_code(&atr), "000", "{atr}");
        let flat = roxml_flat(&atr);
        let id = format!("22c2c40b-{}", matches!(chunk, Sending::Chunks(_)));
        assert!(
            flat.contains(&format!("<MessageIdentifier>{id}</MessageIdentifier>")),
            "{atr}"
        );
        assert!(flat.contains("<MessageRequestIdentifier>ATR_op-"), "{atr}");
        let archive_id = archive_identifier
            .captures(&atr)
            .unwrap_or_else(|| panic!("no archive identifier\n{atr}"))[1]
            .to_owned();
        for xml in [&ack, &atr] {
            assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V2_1, xml);
        }
        let t = TenantId::new("pastell").unwrap();
        let (unit, _) = st
            .archive
            .catalog()
            .unit(&t, &carnac_model::UnitId::new(archive_id).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(unit.title, "TEST 23072021");
    }
}

/// SEDA 0.2, read only: the Mégalis bordereau (cd56) goes through the intake as Pastell sends
/// it, with its digests at the root. As written it names a profile that is not in the bouquet
/// and is refused for that; named against e-Mégalis's 0.2 PES profile it is refused with all
/// that profile finds; under an agreement without a profile it is accepted. Every message is
/// valid SEDA 0.2, shaped as as@lae writes it, with what Pastell reads where it reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_seda_0_2_is_checked_and_answered_in_0_2() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    let name = "cd56-megalis-bordereau-PESV2_DEP56-1-seda0.2.xml";
    let valid = |xml: &str| assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V0_2, xml);
    // As written: its profile is not in the tenant's referential.
    let (bordereau, files) = pastell_transfer(name, "DEP56-1");
    assert_eq!(files.len(), 2);
    valid(&bordereau);
    let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, Sending::Whole).await;
    valid(&ack);
    valid(&atr);
    assert!(ack.contains("<ArchiveTransferReply "), "{ack}");
    assert_ne!(reply_code(&atr), "000", "{atr}");
    assert!(atr.contains("<ArchiveTransferReply "), "{atr}");
    assert!(
        atr.contains("PROFILE_UNKNOWN") && atr.contains("DEP56_PROFIL_PES_0001"),
        "{atr}"
    );
    assert!(!atr.contains("<Archive>"), "{atr}");
    // Against e-Mégalis's profile: refused with what the profile finds, all of it.
    let (bordereau, files) = pastell_transfer(name, "DEP56-2");
    let bordereau = bordereau.replace(">DEP56_PROFIL_PES_0001<", ">EMEG_PROFIL_PES_0002<");
    // Through a connector URL that ends in `/`, as Pastell's own tests configure it.
    let (_, atr) = pastell_sends(
        &app,
        "/restservices/",
        &bordereau,
        &files,
        Sending::Chunks(4096),
    )
    .await;
    valid(&atr);
    assert_ne!(reply_code(&atr), "000", "{atr}");
    for found in ["NOT_CONFORMANT", "EMEG_PROFIL_PES_0002", "BusinessType"] {
        assert!(atr.contains(found), "{found} missing:\n{atr}");
    }
    // Under an agreement without a profile: accepted.
    let (bordereau, files) = pastell_transfer(name, "DEP56-3");
    let bordereau = regex::Regex::new(r"<ArchivalProfile[^>]*>[^<]*</ArchivalProfile>")
        .unwrap()
        .replace(&bordereau, "")
        .replace(">DEP56_ACCORD_PES_0001<", ">ACCORD_SEDA_02<");
    let (ack, atr) = pastell_sends(
        &app,
        "/restservices/",
        &bordereau,
        &files,
        Sending::Chunks(10_000),
    )
    .await;
    valid(&ack);
    valid(&atr);
    assert_eq!(reply_code(&atr), "000", "{atr}");
    // Both name the archival agency the bordereau names.
    for message in [&ack, &atr] {
        assert!(
            roxml_flat(message)
                .contains("<ArchivalAgency><Identification>FRCOL_761</Identification>"),
            "{message}"
        );
    }
    // Pastell's XPaths for a 0.2 acceptance.
    let flat = roxml_flat(&atr);
    let acceptance = regex::Regex::new(
        r"<ArchiveTransferAcceptance [^>]*>.*<TransferAcceptanceIdentifier>ATR_([^<]+)</TransferAcceptanceIdentifier><TransferIdentifier>DEP56-3</TransferIdentifier>.*?<Archive><ArchivalAgencyArchiveIdentifier>([^<]+)</ArchivalAgencyArchiveIdentifier>",
    )
    .unwrap()
    .captures(&flat)
    .unwrap_or_else(|| panic!("not where Pastell reads it:\n{atr}"));
    let (operation, archive_id) = (acceptance[1].to_owned(), acceptance[2].to_owned());
    // The archive: five units (the archive, its object, the object's document, the nested
    // object and its document), both files stored with the digests the root declared.
    let t = TenantId::new("pastell").unwrap();
    let (unit, _) = st
        .archive
        .catalog()
        .unit(&t, &carnac_model::UnitId::new(archive_id).unwrap())
        .unwrap()
        .unwrap();
    assert!(
        unit.title.starts_with("Flux comptable PES Aller"),
        "{}",
        unit.title
    );
    assert_eq!(unit.xml_id, "Contains[1]");
    let operation = carnac_model::OperationId::new(operation).unwrap();
    let units = st
        .archive
        .catalog()
        .units_of_operation(&t, &operation)
        .unwrap();
    assert_eq!(units.len(), 5);
    let objects = st
        .archive
        .catalog()
        .objects_of_operation(&t, &operation)
        .unwrap();
    let mut stored: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o.filename.clone().unwrap(),
                o.digest.as_ref().unwrap().hex.clone(),
            )
        })
        .collect();
    stored.sort();
    let mut sent: Vec<(String, String)> = files
        .iter()
        .map(|(n, b)| {
            (
                n.clone(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)),
            )
        })
        .collect();
    sent.sort();
    assert_eq!(stored, sent);
}

/// `xml` is valid against the official schema of `version` (written to a file in `dir` for
/// libxml2).
pub(crate) fn assert_valid_seda(
    dir: &std::path::Path,
    version: carnac_seda::SedaVersion,
    xml: &str,
) {
    let f = dir.join("message.xml");
    std::fs::write(&f, xml).unwrap();
    carnac_seda::schema::validate_seda(version, &f)
        .unwrap_or_else(|e| panic!("not valid SEDA {version}: {e:?}\n{xml}"));
}

pub(crate) fn roxml_flat(xml: &str) -> String {
    xml.lines().map(str::trim).collect::<Vec<_>>().join("")
}

/// A bordereau that cannot be accepted gets a reply that names every problem, each in its
/// own Comment, with a rejection code; nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_bordereaux_with_problems_are_refused_with_every_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    // A digest that does not match, a file missing and an unknown producer: all three said.
    let (bordereau, mut files) = pastell_transfer("fakeSeda-bordereau.xml", "FAKE-BAD-1");
    let bordereau = bordereau.replace("FRPROD001", "INCONNU");
    files[0].1.push(b'!');
    files.pop();
    let (_, atr) = pastell_sends(
        &app,
        "/restservices",
        &bordereau,
        &files,
        Sending::Chunks(2048),
    )
    .await;
    assert_ne!(reply_code(&atr), "000", "{atr}");
    for reason in [
        "CHECK_AGENT.UNKNOWN",
        "CHECK_DIGEST",
        "MANIFEST_SUPERIOR_BDO",
    ] {
        assert!(atr.contains(reason), "{reason} missing:\n{atr}");
    }
    assert!(!atr.contains("<Archive>"), "{atr}");
    // Unreadable: refused at once, with the reason, and nothing queued.
    let (status, body, _) = send(
        &app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[("seda_message", Some("bordereau.xml"), b"<ArchiveTransfer")]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("cannot be read"), "{body}");
    // The same transfer twice: the second is refused.
    let (bordereau, files) = pastell_transfer("fakeSeda-bordereau.xml", "FAKE-TWICE");
    let _ = pastell_sends(&app, "/restservices", &bordereau, &files, Sending::Whole).await;
    let (status, body, _) = send(
        &app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[
                ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                ("attachments", Some("archive.tar.gz"), &targz(&files)),
            ]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Another tenant's producer cannot read these replies, and wrong credentials get nothing.
    let (status, _, _) = send(
        &app,
        Request::get("/restservices/sedaMessages?sequence=ArchiveTransfer&message=Acknowledgement&originOrganizationIdentification=PASTELL_DEMO&originMessageIdentifier=FAKE-TWICE")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The query-string form reads the same message.
    let (status, ack, _) = send(
        &app,
        pastell_get("/restservices/sedaMessages?sequence=ArchiveTransfer&message=Acknowledgement&originOrganizationIdentification=PASTELL_DEMO&originMessageIdentifier=FAKE-TWICE"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert!(ack.contains("FAKE-TWICE"), "{ack}");
}

/// The as@lae intake's endpoints × every role and no account: the exact allowed set, the
/// tenant always the account's own (a transfer of another tenant is not found, whoever
/// asks), and every request journaled with who asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix_of_the_asalae_intake() {
    use Role::*;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    for t in ["0", "other"] {
        archive
            .import_referentials(
                &TenantId::new(t).unwrap(),
                &testdata().join("asalae/referential"),
                "test",
            )
            .unwrap();
    }
    let app = app(st);
    let post = |token: &str, id: &str| {
        let (bordereau, files) = pastell_transfer("fakeSeda-bordereau.xml", id);
        let mut req = Request::post("/restservices/sedaMessages").header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
        if !token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        req.body(Body::from(multipart(&[
            ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
            ("attachments", Some("archive.tar.gz"), &targz(&files)),
        ])))
        .unwrap()
    };
    // A transfer of the producer of 0, and one of the archivist of `other`.
    let (status, body, _) = send(&app, post(&tokens.producer, "MINE")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = send(&app, post(&tokens.other_archivist, "THEIRS")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack = |id: &str| {
        format!(
            "/restservices/sedaMessages/sequence:ArchiveTransfer/message:Acknowledgement/originOrganizationIdentification:PASTELL_DEMO/originMessageIdentifier:{id}"
        )
    };
    let journal_len = |tenant: &str| {
        archive
            .catalog()
            .journal(&TenantId::new(tenant).unwrap())
            .unwrap()
            .len()
    };
    let mut n = 0;
    // (what, allowed roles, the status of an allowed request).
    let cases: Vec<(&str, Vec<Role>, StatusCode)> = vec![
        (
            "versions",
            vec![Archivist, Producer, ControlAuthority, Auditor],
            StatusCode::OK,
        ),
        ("send", vec![Archivist, Producer], StatusCode::OK),
        (
            "own ack",
            vec![Archivist, Producer, ControlAuthority],
            StatusCode::OK,
        ),
        (
            "other tenant's ack",
            vec![Archivist, ControlAuthority],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, allowed, success) in &cases {
        let mut callers: Vec<(String, Option<Role>)> = Role::ALL
            .iter()
            .map(|r| (tokens.of(*r).to_owned(), Some(*r)))
            .collect();
        callers.push((String::new(), None));
        for (token, role) in callers {
            n += 1;
            let req = match *what {
                "versions" => Request::get("/restservices/versions"),
                "own ack" => Request::get(ack("MINE")),
                "other tenant's ack" => Request::get(ack("THEIRS")),
                _ => {
                    let before = journal_len("0");
                    let (status, body, _) = send(&app, post(&token, &format!("T-{n}"))).await;
                    check(
                        role,
                        allowed,
                        *success,
                        status,
                        &format!("{role:?} send: {body}"),
                    );
                    if role.is_some_and(|r| r != Operator) {
                        assert!(journal_len("0") > before, "{role:?} send not journaled");
                    }
                    continue;
                }
            };
            let req = if token.is_empty() {
                req
            } else {
                req.header(header::AUTHORIZATION, format!("Bearer {token}"))
            };
            let journal = if role.is_some_and(|r| r != Operator) {
                "0"
            } else {
                carnac_model::access::PLATFORM
            };
            let before = journal_len(journal);
            let (status, body, _) = send(&app, req.body(Body::empty()).unwrap()).await;
            check(
                role,
                allowed,
                *success,
                status,
                &format!("{role:?} {what}: {body}"),
            );
            assert!(
                journal_len(journal) > before,
                "{role:?} {what} not journaled in {journal}"
            );
        }
    }
    // Nothing of `other` was told to the accounts of 0: the same answer as for a transfer
    // that does not exist at all.
    let (_, theirs, _) = send(
        &app,
        Request::get(ack("THEIRS"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", tokens.archivist),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let (_, nobody, _) = send(
        &app,
        Request::get(ack("NOBODY"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", tokens.archivist),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(theirs, nobody);
}
