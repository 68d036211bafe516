//! Journal and proof: the tenant's journal a page at a time (newest first, filtered by
//! kind of event and outcome), each event with the seal that covers it, the latest seals
//! with their timestamps, and "vérifier", which recomputes the hash chain, checks every
//! seal and its timestamp, records the verification in the journal and shows what it found.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use carnac_archive::journal::JournalFilter;
use carnac_model::Status;
use carnac_model::access::Action;
use carnac_model::journal::EventKind;

use super::fr;
use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use crate::{AppState, blocking};

/// A turn among the readings of `tenant`'s journal (one at a time per tenant, as the API's
/// journal views), and when the reading must end; or the page that says to wait.
pub(super) async fn journal_turn(
    state: &Arc<AppState>,
    tenant: &carnac_model::TenantId,
    session: &carnac_archive::web_sessions::WebSession,
) -> Result<(crate::fair::FairPermit, carnac_catalog::Interrupt), Response> {
    let wait = state.limits.search.journal_timeout;
    let Some(permit) = state.gates().journal.enter(tenant.as_str(), wait).await else {
        return Err(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(session),
            "Le journal est déjà en cours de lecture pour ce service : réessayez dans un instant.",
        ));
    };
    let interrupt = carnac_catalog::Interrupt::new(
        Some(std::time::Instant::now() + wait),
        vec![state.stopping.clone()],
    );
    Ok((permit, interrupt))
}

/// Events a page shows.
const PER_PAGE: usize = 50;
/// Seals the page lists (the latest).
const SEALS_SHOWN: usize = 10;
/// Deposit attestations the page lists (the latest).
const ATTESTATIONS_SHOWN: u64 = 20;

/// What an event records, in French; the journal's own name is shown beside it.
pub(crate) fn event_label(kind: &str) -> &'static str {
    match kind {
        "INGEST" => "Versement traité",
        "INGEST_RESUMED" => "Versement repris après un arrêt",
        "TRANSFER_RECEIVED" => "Versement reçu",
        "TRANSFER_ACKNOWLEDGED" => "Accusé de réception",
        "JOURNAL_SEAL" => "Scellement du journal",
        "JOURNAL_VERIFY" => "Vérification du journal",
        "JOURNAL_EXPORT" => "Export du journal",
        "AUDIT" => "Audit des copies",
        "OFFER_SYNC" => "Copies ajoutées à une offre de stockage",
        "OFFER_REMOVAL" => "Offre de stockage retirée",
        "ACCESS" => "Consultation ou action autorisée",
        "ACCESS_REFUSED" => "Demande refusée",
        "ACCESS_REFUSED_SUMMARY" => "Demandes refusées (résumé)",
        "LOGIN_LOCKED" => "Connexion bloquée après des échecs",
        "PLATFORM_CREATE" => "Création de la plateforme",
        "TENANT_CREATE" => "Création du service d’archives",
        "TENANT_SUSPEND" => "Suspension du service d’archives",
        "TENANT_RESUME" => "Reprise du service d’archives",
        "TENANT_EXPORT" => "Export complet du service",
        "ACCOUNT_CREATE" => "Création d’un compte",
        "ACCOUNT_TOKEN" => "Jeton d’accès délivré",
        "ACCOUNT_TOKEN_REVOKED" => "Jeton d’accès révoqué",
        "ACCOUNT_CERTIFICATE" => "Certificat de compte enregistré",
        "ACCOUNT_DISABLE" => "Compte désactivé",
        "ACCOUNT_ENABLE" => "Compte réactivé",
        "REFERENTIAL_IMPORT" => "Import de référentiels",
        "EVIDENCE_DEPOSIT" => "Preuves d’intégrité horodatées",
        "EVIDENCE_TIMESTAMP_RENEWAL" => "Renouvellement des horodatages",
        "EVIDENCE_HASH_RENEWAL" => "Renouvellement des empreintes",
        "EVIDENCE_EXPORT" => "Export de preuves",
        "EVIDENCE_REPORT" => "Relevé de valeur probante",
        "DEPOSIT_ATTESTATION" => "Attestation de dépôt",
        "RULES_FILL" => "Règles de gestion complétées",
        "RULES_CHANGE" | "UNIT_RULES_CHANGE" => "Modification de règles de gestion",
        "UNIT_METADATA_CHANGE" => "Correction de description",
        "ELIMINATION_PROPOSAL" => "Proposition d’élimination",
        "ELIMINATION_AGREEMENT" => "Accord du producteur à l’élimination",
        "ELIMINATION_VISA" => "Visa d’élimination",
        "ELIMINATION_WITHDRAWAL" => "Retrait d’une élimination",
        "ELIMINATION_EXECUTION_START" => "Début de l’élimination",
        "ELIMINATION_EXECUTION" => "Élimination exécutée",
        "UNIT_DESTROYED" => "Unité détruite",
        "DELIVERY" => "Communication",
        "UNIT_DELIVERED" => "Unité communiquée",
        "DELIVERY_REQUEST" => "Demande de communication",
        "DELIVERY_REFUSAL" => "Communication refusée",
        "DELIVERY_PACKAGE_REMOVED" => "Paquet de communication supprimé",
        "TRANSFER_OUT" => "Transfert aux archives définitives",
        "TRANSFER_OUT_ACKNOWLEDGEMENT" => "Accusé de réception du transfert",
        "TRANSFER_OUT_REPLY" => "Réponse au transfert",
        "TRANSFER_OUT_WITHDRAWAL" => "Retrait d’un transfert",
        "TRANSFER_OUT_PURGE_START" | "TRANSFER_OUT_PURGE" => "Suppression après transfert",
        "UNIT_TRANSFERRED" => "Unité transférée",
        "RESTITUTION" => "Restitution",
        "RESTITUTION_REPLY" => "Réponse à la restitution",
        "RESTITUTION_WITHDRAWAL" => "Retrait d’une restitution",
        "RESTITUTION_PURGE_START" | "RESTITUTION_PURGE" => "Suppression après restitution",
        "UNIT_RETURNED" => "Unité restituée",
        "TENANT_CLOSE" => "Clôture du service",
        "TENANT_CLOSE_WITHDRAWAL" => "Clôture abandonnée",
        "TENANT_CLOSE_PURGE_START" | "TENANT_CLOSE_PURGE" => "Suppression à la clôture",
        "UNIT_CLOSED" => "Unité supprimée à la clôture",
        "WEB_SIGN_IN" => "Connexion",
        "WEB_SIGN_OUT" => "Déconnexion",
        "WEB_SESSIONS_EXPIRED" => "Sessions expirées",
        "UNREADABLE" => "Événement illisible (altéré)",
        _ => "Autre événement",
    }
}

/// The kinds a filter offers: those an archivist looks for.
const FILTER_KINDS: &[&str] = &[
    "INGEST",
    "ACCESS",
    "ACCESS_REFUSED",
    "JOURNAL_SEAL",
    "JOURNAL_VERIFY",
    "AUDIT",
    "EVIDENCE_DEPOSIT",
    "DEPOSIT_ATTESTATION",
    "UNIT_RULES_CHANGE",
    "UNIT_METADATA_CHANGE",
    "ELIMINATION_PROPOSAL",
    "ELIMINATION_VISA",
    "ELIMINATION_EXECUTION",
    "DELIVERY",
    "TRANSFER_OUT",
    "RESTITUTION",
];

pub(crate) fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "OK" => "Réussi",
        "WARNING" => "Avertissement",
        "KO" => "Échec",
        _ => "Inconnu",
    }
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct JournalForm {
    #[serde(rename = "type")]
    kind: Option<String>,
    resultat: Option<String>,
    avant: Option<u64>,
}

struct EventRow {
    sequence: String,
    time: String,
    label: &'static str,
    kind: String,
    outcome: &'static str,
    agent: String,
    operation: String,
    seal: String,
}

struct SealView {
    range: String,
    stamped: String,
    tsa: String,
    sealed: String,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    page: Page,
    kinds: Vec<(&'static str, &'static str)>,
    kind: String,
    resultat: String,
    events: Vec<EventRow>,
    last: String,
    next: Option<String>,
    newest: bool,
    interrupted: bool,
    seals: Vec<SealView>,
    unsealed: String,
    /// The latest deposit attestations: when, and of which transfer.
    attestations: Vec<(String, String)>,
}

pub(crate) async fn journal(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(form): Query<JournalForm>,
) -> Response {
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(Action::JournalRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let kind = form.kind.clone().filter(|k| !k.is_empty());
    if kind.as_deref().is_some_and(|k| !FILTER_KINDS.contains(&k)) {
        return error_page(
            StatusCode::BAD_REQUEST,
            Some(&session),
            "Ce type d’événement n’est pas proposé : choisissez-en un dans la liste.",
        );
    }
    let outcome = match form.resultat.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => match Status::parse(r) {
            Some(s) => Some(s),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    Some(&session),
                    "Ce résultat n’existe pas : choisissez-en un dans la liste.",
                );
            }
        },
    };
    let filter = JournalFilter {
        kind: kind.as_deref().map(EventKind::from),
        outcome,
    };
    // A reading of the journal waits its turn among the tenant's, and stops at the same
    // time limit as the API's journal views.
    let (_permit, interrupt) = match journal_turn(&state, &tenant, &session).await {
        Ok(turn) => turn,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let before = form.avant;
    let f = filter.clone();
    let read = blocking(move || {
        let browse = archive.journal_backwards(&t, before, &f, PER_PAGE, &interrupt)?;
        let seals = archive.seals(&t)?;
        let attestations =
            archive.recent_operations(&t, EventKind::DepositAttestation, ATTESTATIONS_SHOWN)?;
        Ok((browse, seals, attestations))
    })
    .await;
    let (browse, seals, attestations) = match read {
        Ok(r) => r,
        Err(e) => return refusal(e, Some(&session)),
    };
    let sealed_up_to = seals.last().map_or(0, |s| s.last);
    let query = |avant: u64| {
        format!(
            "/journal?type={}&resultat={}&avant={avant}",
            super::units::encode(kind.as_deref().unwrap_or("")),
            outcome.map_or("", |o| o.as_str()),
        )
    };
    let events = browse
        .events
        .iter()
        .map(|e| EventRow {
            sequence: fr::integer(e.sequence),
            time: fr::timestamp(&e.time),
            label: event_label(&e.kind),
            kind: e.kind.clone(),
            outcome: outcome_label(&e.outcome),
            agent: e.agent.clone(),
            operation: e.operation.clone(),
            seal: match &e.sealed_by {
                Some((_, at)) => format!("scellé le {}", fr::timestamp(at)),
                None => "pas encore scellé".to_owned(),
            },
        })
        .collect();
    let seal_views = seals
        .iter()
        .rev()
        .take(SEALS_SHOWN)
        .map(|s| SealView {
            range: format!("{} à {}", fr::integer(s.first), fr::integer(s.last)),
            stamped: fr::timestamp(&s.stamped_at),
            tsa: s.tsa.clone(),
            sealed: s.sealed.clone(),
        })
        .collect();
    let next = browse.next_before.map(query);
    html(
        StatusCode::OK,
        &JournalPage {
            page: Page::new("Journal et preuves", Some(&session)),
            kinds: FILTER_KINDS.iter().map(|k| (*k, event_label(k))).collect(),
            kind: kind.unwrap_or_default(),
            resultat: outcome.map_or("", |o| o.as_str()).to_owned(),
            events,
            last: fr::integer(browse.last),
            next,
            newest: form.avant.is_none(),
            interrupted: browse.interrupted,
            seals: seal_views,
            unsealed: fr::integer(browse.last.saturating_sub(sealed_up_to)),
            attestations: attestations
                .iter()
                .filter(|o| o.status == Some(Status::Ok))
                .filter_map(|o| {
                    let of = o.summary.as_ref()?.get("of")?.as_str()?.to_owned();
                    Some((fr::timestamp(&o.started_at), of))
                })
                .collect(),
        },
    )
}

/// What a break of the chain or of a seal means, in French.
fn problem_label(code: &str) -> &'static str {
    match code {
        "EDITED" => "Un événement a été modifié après son écriture",
        "MISSING" => "Des événements manquent",
        "UNLINKED" => "Un événement ne suit pas le précédent (inséré, déplacé ou remplacé)",
        "UNREADABLE" => "Un événement est illisible",
        "SEAL_GAP" => "Des événements ne sont couverts par aucun sceau",
        "SEAL_UNLINKED" => "Un sceau ne suit pas le précédent",
        "SEAL_MISMATCH" => "Un sceau ne correspond plus aux événements qu’il couvre",
        "SEAL_TOKEN" => "L’horodatage d’un sceau n’est pas valable",
        _ => "Anomalie",
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    csrf: String,
}

struct ProblemRow {
    sequence: String,
    text: String,
}

#[derive(Template)]
#[template(path = "journal-verification.html")]
struct VerificationPage {
    page: Page,
    intact: bool,
    events: String,
    seals: String,
    sealed_up_to: String,
    head: String,
    operation: String,
    problems: Vec<ProblemRow>,
}

/// Runs the verification of the tenant's journal (chain, seals, timestamps), which the
/// journal records, and shows what it found.
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<VerifyForm>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::JournalRead), Some(&form.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // One reading of a tenant's journal at a time: a verification reads it whole.
    let _turn = match journal_turn(&state, &tenant, &session).await {
        Ok(turn) => turn,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let login = principal.login.clone();
    let v = match blocking(move || Ok(archive.verify_journal(&t, &login)?)).await {
        Ok(v) => v,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &VerificationPage {
            page: Page::new("Vérification du journal", Some(&session)),
            intact: v.intact(),
            events: fr::integer(v.events),
            seals: fr::integer(v.seals),
            sealed_up_to: fr::integer(v.sealed_up_to),
            head: v.head.clone().unwrap_or_default(),
            operation: v.operation.to_string(),
            problems: v
                .problems
                .iter()
                .map(|p| ProblemRow {
                    sequence: fr::integer(p.sequence),
                    text: format!("{} ({} : {})", problem_label(&p.code), p.code, p.message),
                })
                .collect(),
        },
    )
}
