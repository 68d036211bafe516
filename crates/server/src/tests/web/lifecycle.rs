//! The web application's lifecycle pages: an elimination from its proposal to its
//! certificate, a delivery with a derogation, a transfer out and a restitution.

use super::*;

#[tokio::test]
async fn an_elimination_across_three_accounts_to_its_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    // A producer of another agency of the same tenant: not asked for this agreement.
    account_of(
        &st.archive,
        "prod-ailleurs",
        Role::Producer,
        &["0"],
        &["Identifier1".to_owned()],
    );
    let app = app(st);
    let title = "Registre <b>\"provisoire\"</b> d'état civil";
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/0/transfers",
            &tokens.archivist,
            unit_with_file(title, b"registre"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let op: serde_json::Value = serde_json::from_str(&body).unwrap();
    wait_done(
        &app,
        "0",
        op["operation"].as_str().unwrap(),
        &tokens.archivist,
    )
    .await;
    let (_, body, _) = send(
        &app,
        get("/api/v1/tenants/0/units?q=Registre", &tokens.archivist),
    )
    .await;
    let unit = serde_json::from_str::<serde_json::Value>(&body).unwrap()["units"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Its retention over, its final action Destroy.
    let (status, body, _) = send(
        &app,
        Request::post("/api/v1/tenants/0/rules/changes")
            .header(header::AUTHORIZATION, format!("Bearer {}", tokens.archivist))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({
                    "units": [unit],
                    "actions": [
                        {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                        {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}
                    ]
                })
                .to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The archivist proposes the units of a search.
    let archivist = signed_in(&app, "arch").await;
    let (status, _, form_page) = exchange(&app, page("/eliminations/nouvelle", &archivist)).await;
    assert_eq!(status, StatusCode::OK, "{form_page}");
    let csrf = csrf_of(&form_page);
    let (status, _, refused) = exchange(
        &app,
        form(
            "/eliminations",
            &archivist,
            &[("csrf", &csrf), ("date", "hier"), ("selection", "tout")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("AAAA-MM-JJ"), "{refused}");
    let proposed = after(
        &app,
        &archivist,
        form(
            "/eliminations",
            &archivist,
            &[
                ("csrf", &csrf),
                ("date", "2026-12-04"),
                ("selection", "recherche"),
                ("q", "Registre"),
                ("commentaire", "Registres en double"),
            ],
        ),
    )
    .await;
    assert!(
        proposed.contains("Proposée, en attente de l’accord du producteur"),
        "{proposed}"
    );
    assert!(
        proposed.contains("Registre &#60;b&#62;"),
        "the title as text: {proposed}"
    );
    assert!(
        !proposed.contains("Votre réponse de producteur")
            && !proposed.contains("Enregistrer le visa")
    );
    let at = proposed.find("/eliminations/").unwrap();
    let path: String = proposed[at..]
        .split(['"', '/'])
        .filter(|s| !s.is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join("/");
    let path = format!("/{path}");
    // The control authority may not give its visa before the producer's answer; the producer
    // may not give a visa at all.
    let control = signed_in(&app, "ctl").await;
    let (_, _, before) = exchange(&app, page(&path, &control)).await;
    assert!(!before.contains("Enregistrer le visa"), "{before}");
    let producer = signed_in(&app, "prod").await;
    // What waits for each: the producer's answer, on its home page; nothing for the visa yet.
    let (_, _, home) = exchange(&app, page("/", &producer)).await;
    assert!(
        home.contains("attend votre réponse de producteur") && home.contains(&path),
        "{home}"
    );
    let (_, _, home) = exchange(&app, page("/", &control)).await;
    assert!(!home.contains("Ce qui vous attend"), "{home}");
    let elsewhere = signed_in(&app, "prod-ailleurs").await;
    let (_, _, home) = exchange(&app, page("/", &elsewhere)).await;
    assert!(
        !home.contains("Ce qui vous attend"),
        "not its records: {home}"
    );
    let (_, _, for_producer) = exchange(&app, page(&path, &producer)).await;
    assert!(
        for_producer.contains("Votre réponse de producteur"),
        "{for_producer}"
    );
    let pcsrf = csrf_of(&for_producer);
    let (status, _, _) = exchange(
        &app,
        form(
            &format!("{path}/visa"),
            &producer,
            &[("csrf", &pcsrf), ("decision", "accorde")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(
        &app,
        form(
            &format!("{path}/accord"),
            &producer,
            &[("csrf", "forged"), ("decision", "accord")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged form does nothing");
    let agreed = after(
        &app,
        &producer,
        form(
            &format!("{path}/accord"),
            &producer,
            &[("csrf", &pcsrf), ("decision", "accord")],
        ),
    )
    .await;
    assert!(agreed.contains("Acceptée par le producteur"), "{agreed}");
    // The visa, with the unit offered as an exception.
    let (_, _, home) = exchange(&app, page("/", &control)).await;
    assert!(home.contains("attend votre visa"), "{home}");
    let (_, _, for_control) = exchange(&app, page(&path, &control)).await;
    assert!(for_control.contains("Enregistrer le visa"), "{for_control}");
    assert!(
        for_control.contains(&format!("value=\"{unit}\"")),
        "{for_control}"
    );
    let ccsrf = csrf_of(&for_control);
    let granted = after(
        &app,
        &control,
        form(
            &format!("{path}/visa"),
            &control,
            &[
                ("csrf", &ccsrf),
                ("decision", "accorde"),
                ("commentaire", "Vu"),
            ],
        ),
    )
    .await;
    assert!(granted.contains("Visa accordé, à exécuter"), "{granted}");
    // Executed by the archivist; the certificate to download.
    let (_, _, for_archivist) = exchange(&app, page(&path, &archivist)).await;
    assert!(for_archivist.contains("data-confirmer"), "{for_archivist}");
    let executed = after(
        &app,
        &archivist,
        form(&format!("{path}/execution"), &archivist, &[("csrf", &csrf)]),
    )
    .await;
    assert!(
        executed.contains("Exécutée") && executed.contains("certificat.p7s"),
        "{executed}"
    );
    let (status, h, certificate) = exchange(
        &app,
        page(&format!("{path}/documents/certificat.json"), &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(certificate.contains(&unit), "{certificate}");
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("certificat.json")
    );
    let (status, _, pdf) = exchange(
        &app,
        page(&format!("{path}/documents/bordereau.pdf"), &producer),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with("%PDF"), "the printable bordereau");
    // The list; another tenant's archivist sees nothing of it.
    let (_, _, list) = exchange(&app, page("/eliminations", &archivist)).await;
    assert!(list.contains(&path) && list.contains("Exécutée"), "{list}");
    let stranger = signed_in(&app, "arch-other").await;
    let (status, _, _) = exchange(&app, page(&path, &stranger)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_delivery_with_a_derogation_authorised_then_downloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    let app = app(st);
    let (_, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/0/transfers",
            &tokens.archivist,
            unit_with_file("Dossier de personnel", b"dossier"),
        ),
    )
    .await;
    let op: serde_json::Value = serde_json::from_str(&body).unwrap();
    let op = op["operation"].as_str().unwrap().to_owned();
    wait_done(&app, "0", &op, &tokens.archivist).await;
    let t = TenantId::new("0").unwrap();
    let unit = archive
        .catalog()
        .units_of_operation(&t, &carnac_model::OperationId::new(&op).unwrap())
        .unwrap()[0]
        .id
        .to_string();
    let change: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(
        serde_json::json!({"units": [unit], "actions": [
            {"action": "add", "category": "AccessRule", "rule": "ACC-00003", "start_date": "2021-01-01"}]}),
    )
    .unwrap();
    archive.change_rules(&t, &change, "test").unwrap();
    // From the unit's page, the request form, the unit filled in.
    let archivist = signed_in(&app, "arch").await;
    let (_, _, unit_page) = exchange(&app, page(&format!("/unites/{unit}"), &archivist)).await;
    let link = format!("/communications/nouvelle?unite={unit}");
    assert!(unit_page.contains(&link), "{unit_page}");
    let (status, _, request_page) = exchange(&app, page(&link, &archivist)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        request_page.contains(&format!(">{unit}</textarea>")),
        "{request_page}"
    );
    let csrf = csrf_of(&request_page);
    // Restricted, no derogation asked: said, in French, with what to do.
    let (status, _, refused) = exchange(
        &app,
        form(
            "/communications",
            &archivist,
            &[
                ("csrf", &csrf),
                ("unites", &unit),
                ("demandeur", "M. Le Goff"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        refused.contains("dérogation") && refused.contains("role=\"alert\""),
        "{refused}"
    );
    let (status, h, _) = exchange(
        &app,
        form(
            "/communications",
            &archivist,
            &[
                ("csrf", &csrf),
                ("unites", &unit),
                ("demandeur", "M. Le Goff"),
                ("derogation", "oui"),
                ("commentaire", "Recherche généalogique"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let path = h[header::LOCATION].to_str().unwrap().to_owned();
    let (_, _, awaiting) = exchange(&app, page(&path, &archivist)).await;
    assert!(
        awaiting.contains("En attente de l’autorisation"),
        "{awaiting}"
    );
    assert!(awaiting.contains("Recherche généalogique"), "{awaiting}");
    assert!(
        !awaiting.contains("Enregistrer la décision"),
        "not the archivist's to decide"
    );
    // The control authority: waited for on its home page, then granted.
    let control = signed_in(&app, "ctl").await;
    let (_, _, home) = exchange(&app, page("/", &control)).await;
    assert!(
        home.contains("attend votre décision sur sa dérogation"),
        "{home}"
    );
    let (_, _, for_control) = exchange(&app, page(&path, &control)).await;
    assert!(
        for_control.contains("Enregistrer la décision"),
        "{for_control}"
    );
    let ccsrf = csrf_of(&for_control);
    let delivered = after(
        &app,
        &control,
        form(
            &format!("{path}/autorisation"),
            &control,
            &[("csrf", &ccsrf), ("decision", "accorde")],
        ),
    )
    .await;
    assert!(
        delivered.contains("Communiquée, paquet à télécharger"),
        "{delivered}"
    );
    // The package, checked on the way as the API's.
    let (status, h, zip) = exchange(&app, page(&format!("{path}/paquet"), &archivist)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(zip.starts_with("PK"), "a zip");
    assert!(h.contains_key("repr-digest"));
    // A producer who did not ask sees nothing of it; another tenant's archivist neither.
    let producer = signed_in(&app, "prod").await;
    let (_, _, list) = exchange(&app, page("/communications", &producer)).await;
    assert!(!list.contains(&path), "{list}");
    let (status, _, _) = exchange(&app, page(&path, &producer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = exchange(&app, page(&format!("{path}/paquet"), &producer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stranger = signed_in(&app, "arch-other").await;
    let (status, _, _) = exchange(&app, page(&path, &stranger)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A SEDA message sent from a page's form, as a file.
fn message_to(uri: &str, cookie: &str, csrf: &str, xml: &str) -> Request<Body> {
    upload_to(uri, cookie, csrf, "message", xml.as_bytes())
}

#[tokio::test]
async fn a_transfer_out_and_a_restitution_from_their_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let (leaves, all) = ingested(&st);
    let t = TenantId::new("0").unwrap();
    // Every unit's retention over, to be kept: all may go to the definitive archives.
    let change: carnac_archive::rules::RulesChangeRequest =
        serde_json::from_value(serde_json::json!({
            "units": all,
            "actions": [
                {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}
            ]
        }))
        .unwrap();
    st.archive.change_rules(&t, &change, "test").unwrap();
    let app = app(st.clone());
    let archivist = signed_in(&app, "arch").await;
    let producer = signed_in(&app, "prod").await;

    // The home page counts what came in that year, and what is held.
    let intake = st.archive.intake_by_year(&t).unwrap();
    assert_eq!(intake.len(), 1, "{intake:?}");
    assert_eq!(intake[0].units as usize, all.len());
    let (_, _, home) = exchange(&app, page("/", &archivist)).await;
    assert!(home.contains("Entrées par année de versement"), "{home}");
    assert!(
        home.contains(&format!(
            "<tr><td>{}</td><td>1</td><td>{}</td>",
            intake[0].year,
            all.len()
        )),
        "{home}"
    );
    assert!(home.contains("<dt>Taille</dt>"), "{home}");

    // The archivist proposes two leaves and an unknown unit: the page lists the package's
    // units and says why the unknown one is left out.
    let (status, _, list) = exchange(&app, page("/transferts", &archivist)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("Proposer un transfert"), "{list}");
    let (status, _, form_page) = exchange(&app, page("/transferts/nouveau", &archivist)).await;
    assert_eq!(status, StatusCode::OK, "{form_page}");
    assert!(
        form_page.contains("<option value=\"Identifier1\""),
        "{form_page}"
    );
    let csrf = csrf_of(&form_page);
    let (status, _, refused) = exchange(
        &app,
        form(
            "/transferts",
            &archivist,
            &[
                ("csrf", &csrf),
                ("destinataire", "NOBODY"),
                ("selection", "unites"),
                ("unites", &leaves[0]),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused.contains("n’a pas pu être faite") && refused.contains("NOBODY"),
        "{refused}"
    );
    let chosen = format!("{}\n{}\nUNIT-INCONNUE\n", leaves[0], leaves[1]);
    let sent = after(
        &app,
        &archivist,
        form(
            "/transferts",
            &archivist,
            &[
                ("csrf", &csrf),
                ("destinataire", "Identifier1"),
                ("accord", "AD-2026-12"),
                ("selection", "unites"),
                ("unites", &chosen),
            ],
        ),
    )
    .await;
    assert!(
        sent.contains("Envoyé, en attente de la réponse du destinataire"),
        "{sent}"
    );
    assert!(
        sent.contains(&leaves[0]) && sent.contains(&leaves[1]),
        "{sent}"
    );
    assert!(sent.contains("UNIT-INCONNUE"), "left out, said: {sent}");
    assert!(sent.contains("AD-2026-12"), "{sent}");
    let at = sent.find("/transferts/").unwrap();
    let id = sent[at + "/transferts/".len()..]
        .split(['/', '"'])
        .next()
        .unwrap()
        .to_owned();
    let base = format!("/transferts/{id}");
    let (status, h, package) =
        exchange(&app, page(&format!("{base}/documents/paquet"), &archivist)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/zip");
    assert!(package.starts_with("PK"), "a zip");

    // The producer reads it, records nothing, proposes nothing.
    let (status, _, seen) = exchange(&app, page(&base, &producer)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert!(!seen.contains("Enregistrer un message reçu"), "{seen}");
    let (status, _, _) = exchange(&app, page("/transferts/nouveau", &producer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The definitive archives' acknowledgement, a reply to another transfer (refused, with
    // its reason), then their acceptance: the units are purged, the certificate is there.
    let csrf = csrf_of(&sent);
    let ack = format!(
        "<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
         <MessageIdentifier>AD-ACK</MessageIdentifier><MessageReceivedIdentifier>{id}</MessageReceivedIdentifier></Acknowledgement>"
    );
    let acknowledged = after(
        &app,
        &archivist,
        message_to(&format!("{base}/message"), &archivist, &csrf, &ack),
    )
    .await;
    assert!(
        acknowledged.contains("Accusé de réception du destinataire"),
        "{acknowledged}"
    );
    let reply = |to: &str, code: &str| {
        format!(
            "<ArchiveTransferReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
             <MessageIdentifier>AD-{code}</MessageIdentifier><CodeListVersions/><ReplyCode>{code}</ReplyCode>\
             <MessageRequestIdentifier>{to}</MessageRequestIdentifier></ArchiveTransferReply>"
        )
    };
    let (status, _, wrong) = exchange(
        &app,
        message_to(
            &format!("{base}/message"),
            &archivist,
            &csrf,
            &reply("AUTRE", "OK"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    assert!(
        wrong.contains("n’a pas été enregistré") && wrong.contains("AUTRE"),
        "{wrong}"
    );
    let (status, _, forged) = exchange(
        &app,
        message_to(
            &format!("{base}/message"),
            &archivist,
            "forged",
            &reply(&id, "OK"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forged}");
    let done = after(
        &app,
        &archivist,
        message_to(
            &format!("{base}/message"),
            &archivist,
            &csrf,
            &reply(&id, "OK"),
        ),
    )
    .await;
    assert!(done.contains("Terminé"), "{done}");
    assert!(done.contains("documents/certificat.json"), "{done}");
    let (status, _, certificate) = exchange(
        &app,
        page(&format!("{base}/documents/certificat.json"), &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(certificate.contains(&leaves[0]), "{certificate}");
    let (status, _, _) = exchange(&app, page(&format!("/unites/{}", leaves[0]), &archivist)).await;
    assert_ne!(status, StatusCode::OK, "transferred, so purged");

    // Another one, withdrawn.
    let second = after(
        &app,
        &archivist,
        form(
            "/transferts",
            &archivist,
            &[
                ("csrf", &csrf),
                ("destinataire", "Identifier1"),
                ("selection", "unites"),
                ("unites", &leaves[2]),
            ],
        ),
    )
    .await;
    let at = second.find("/retrait\"").unwrap();
    let action = &second[second[..at].rfind('"').unwrap() + 1..at + "/retrait".len()];
    let withdrawn = after(
        &app,
        &archivist,
        form(
            action,
            &archivist,
            &[("csrf", &csrf), ("commentaire", "Erreur de sélection")],
        ),
    )
    .await;
    assert!(withdrawn.contains("Retiré"), "{withdrawn}");
    assert!(withdrawn.contains("Erreur de sélection"), "{withdrawn}");

    // A restitution of everything the producer's agency has left: the producer
    // acknowledges the package from its page, and every copy goes.
    let (status, _, form_page) = exchange(&app, page("/restitutions/nouvelle", &archivist)).await;
    assert_eq!(status, StatusCode::OK, "{form_page}");
    let given = after(
        &app,
        &archivist,
        form(
            "/restitutions",
            &archivist,
            &[
                ("csrf", &csrf),
                ("destinataire", "FRAN_NP_009913"),
                ("selection", "tout"),
            ],
        ),
    )
    .await;
    assert!(
        given.contains("Envoyée, en attente de la réponse du producteur"),
        "{given}"
    );
    let at = given.find("/restitutions/").unwrap();
    let rid = given[at + "/restitutions/".len()..]
        .split(['/', '"'])
        .next()
        .unwrap()
        .to_owned();
    let (status, _, request) = exchange(
        &app,
        page(&format!("/restitutions/{rid}/documents/demande"), &producer),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(request.contains("ArchiveRestitutionRequest"), "{request}");
    let (_, _, producer_page) =
        exchange(&app, page(&format!("/restitutions/{rid}"), &producer)).await;
    assert!(
        producer_page.contains("Enregistrer un message reçu"),
        "{producer_page}"
    );
    let ack = format!(
        "<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
         <MessageIdentifier>PROD-ACK</MessageIdentifier><MessageReceivedIdentifier>{rid}</MessageReceivedIdentifier></Acknowledgement>"
    );
    let returned = after(
        &app,
        &producer,
        message_to(
            &format!("/restitutions/{rid}/message"),
            &producer,
            &csrf_of(&producer_page),
            &ack,
        ),
    )
    .await;
    assert!(returned.contains("Terminée"), "{returned}");
    let (_, _, list) = exchange(&app, page("/restitutions", &producer)).await;
    assert!(list.contains(&rid) && list.contains("Terminée"), "{list}");
}
