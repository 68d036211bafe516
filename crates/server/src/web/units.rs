//! Search and consultation: the search page (free text, facets by agency and year, pages,
//! the count exact or "au moins"), the page of a unit (its description, its place in the
//! tree, its files, its effective rules) and the download of a file, checked against its
//! digest as the API's is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use carnac_model::access::Action;
use carnac_model::referential::RuleCategory;
use carnac_model::{ObjectId, UnitId};

use super::fr;
use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use crate::{AppState, blocking};

/// Results a page shows.
const PER_PAGE: u64 = 20;

#[derive(serde::Deserialize, Default)]
pub(crate) struct SearchForm {
    #[serde(default)]
    q: String,
    agency: Option<String>,
    year: Option<String>,
    page: Option<u64>,
}

impl SearchForm {
    /// The search's address with `change` applied (a facet chosen, a filter removed, a page).
    fn href(&self, change: impl FnOnce(&mut SearchForm)) -> String {
        let mut f = SearchForm {
            q: self.q.clone(),
            agency: self.agency.clone(),
            year: self.year.clone(),
            page: None,
        };
        change(&mut f);
        let mut parts = vec![format!("q={}", encode(&f.q))];
        if let Some(a) = &f.agency {
            parts.push(format!("agency={}", encode(a)));
        }
        if let Some(y) = &f.year {
            parts.push(format!("year={}", encode(y)));
        }
        if let Some(p) = f.page.filter(|p| *p > 1) {
            parts.push(format!("page={p}"));
        }
        format!("/recherche?{}", parts.join("&"))
    }
}

/// A query's value, every character but RFC 3986's unreserved ones encoded.
pub(super) fn encode(s: &str) -> String {
    const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

struct Found {
    id: String,
    title: String,
    dates: String,
    agency: Option<String>,
}

struct FacetLink {
    label: String,
    count: String,
    href: String,
}

struct Filter {
    label: String,
    remove: String,
}

#[derive(Template)]
#[template(path = "recherche.html")]
struct SearchPage {
    page: Page,
    q: String,
    agency: Option<String>,
    year: Option<String>,
    /// "1 234 résultats", "au moins 10 000 résultats"; none before a search.
    count: Option<String>,
    filters: Vec<Filter>,
    units: Vec<Found>,
    first: u64,
    previous: Option<String>,
    next: Option<String>,
    agencies: Vec<FacetLink>,
    years: Vec<FacetLink>,
}

/// `2019`, `du 3 février 2019 au 5 mars 2020`, or nothing known.
fn dates(start: Option<&str>, end: Option<&str>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if s.get(..10) == e.get(..10) => fr::iso_date(s),
        (Some(s), Some(e)) => format!("du {} au {}", fr::iso_date(s), fr::iso_date(e)),
        (Some(s), None) => format!("depuis le {}", fr::iso_date(s)),
        (None, Some(e)) => format!("jusqu’au {}", fr::iso_date(e)),
        (None, None) => "dates non renseignées".to_owned(),
    }
}

pub(crate) async fn search(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(form): Query<SearchForm>,
) -> Response {
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(Action::UnitSearch), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let searched = !form.q.trim().is_empty() || form.agency.is_some() || form.year.is_some();
    let mut page = SearchPage {
        page: Page::new("Rechercher", Some(&session)),
        q: form.q.clone(),
        agency: form.agency.clone(),
        year: form.year.clone(),
        count: None,
        filters: Vec::new(),
        units: Vec::new(),
        first: 1,
        previous: None,
        next: None,
        agencies: Vec::new(),
        years: Vec::new(),
    };
    if !searched {
        return html(StatusCode::OK, &page);
    }
    let number = form.page.unwrap_or(1).clamp(1, 100_000);
    let year = match form.year.as_deref().map(str::parse::<i32>) {
        None => None,
        Some(Ok(y)) if (1..=9999).contains(&y) => Some(y),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "L’année demandée n’en est pas une : choisissez-en une dans la liste.",
            );
        }
    };
    let query = carnac_catalog::UnitQuery {
        text: (!form.q.trim().is_empty()).then(|| form.q.clone()),
        agency: form.agency.clone(),
        from: year.map(|y| format!("{y:04}-01-01")),
        to: year.map(|y| format!("{y:04}-12-31")),
        offset: (number - 1) * PER_PAGE,
        limit: PER_PAGE,
        ..Default::default()
    };
    let found = match crate::routes::units::search_units(&state, tenant, query).await {
        Ok(f) => f,
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Cette recherche est trop large ou va trop loin dans les résultats : précisez-la (des mots, un service, une année).",
            );
        }
        Err(e) => return refusal(e, Some(&session)),
    };
    let plural = if found.total > 1 { "s" } else { "" };
    page.count = Some(if found.total_exact {
        format!("{} résultat{plural}", fr::integer(found.total))
    } else {
        format!("au moins {} résultats", fr::integer(found.total))
    });
    if let Some(a) = &form.agency {
        page.filters.push(Filter {
            label: format!("Service producteur : {a}"),
            remove: form.href(|f| f.agency = None),
        });
    }
    if let Some(y) = &form.year {
        page.filters.push(Filter {
            label: format!("Année : {y}"),
            remove: form.href(|f| f.year = None),
        });
    }
    page.first = (number - 1) * PER_PAGE + 1;
    page.units = found
        .units
        .into_iter()
        .map(|u| Found {
            id: u.id.to_string(),
            title: u.title,
            dates: dates(u.start_date.as_deref(), u.end_date.as_deref()),
            agency: u.originating_agency,
        })
        .collect();
    if number > 1 {
        page.previous = Some(form.href(|f| f.page = Some(number - 1)));
    }
    if number * PER_PAGE < found.total {
        page.next = Some(form.href(|f| f.page = Some(number + 1)));
    }
    if form.agency.is_none() {
        page.agencies = found
            .agencies
            .iter()
            .take(20)
            .map(|f| FacetLink {
                label: f.value.clone(),
                count: fr::integer(f.count),
                href: form.href(|x| x.agency = Some(f.value.clone())),
            })
            .collect();
    }
    if form.year.is_none() {
        page.years = found
            .years
            .iter()
            .take(30)
            .map(|f| FacetLink {
                label: f.value.clone(),
                count: fr::integer(f.count),
                href: form.href(|x| x.year = Some(f.value.clone())),
            })
            .collect();
    }
    html(StatusCode::OK, &page)
}

struct FileRow {
    name: String,
    format: String,
    size: String,
    digest: String,
    href: Option<String>,
}

struct RuleRow {
    category: &'static str,
    rule: String,
    start: String,
    end: String,
    origin: String,
}

/// Children a unit's page names (the count says how many more).
const CHILDREN_SHOWN: usize = 50;

/// A line of the description: its depth, its label, its text.
struct DescriptionLine {
    indent: &'static str,
    label: String,
    text: String,
}

/// The French name of a SEDA element an archivist reads often; others keep theirs.
fn element_label(name: &str) -> String {
    match name {
        "Title" => "Intitulé",
        "Description" => "Description",
        "DescriptionLevel" => "Niveau de description",
        "StartDate" => "Date de début",
        "EndDate" => "Date de fin",
        "CreatedDate" => "Date de création",
        "ReceivedDate" => "Date de réception",
        "SentDate" => "Date d’envoi",
        "AcquiredDate" => "Date d’acquisition",
        "TransactedDate" => "Date de la transaction",
        "RegisteredDate" => "Date d’enregistrement",
        "OriginatingAgency" => "Service producteur",
        "SubmissionAgency" => "Service versant",
        "Identifier" => "Identifiant",
        "OriginatingAgencyArchiveUnitIdentifier" => "Cote du producteur",
        "ArchivalAgencyArchiveUnitIdentifier" => "Cote du service d’archives",
        "TransferringAgencyArchiveUnitIdentifier" => "Cote du service versant",
        "FilePlanPosition" => "Position dans le plan de classement",
        "DocumentType" => "Type de document",
        "Language" | "DescriptionLanguage" => "Langue",
        "Status" => "Statut",
        "Version" => "Version",
        "Keyword" => "Mot-clé",
        "KeywordContent" => "Contenu",
        "KeywordType" => "Type",
        "KeywordReference" => "Référence",
        "Coverage" => "Couverture",
        "Spatial" => "Spatiale",
        "Temporal" => "Temporelle",
        "Juridictional" => "Juridictionnelle",
        "Writer" => "Rédacteur",
        "Addressee" => "Destinataire",
        "Recipient" => "Destinataire en copie",
        "Sender" => "Expéditeur",
        "Transmitter" => "Transmetteur",
        "Signature" => "Signature",
        "Signer" => "Signataire",
        "FullName" => "Nom complet",
        "FirstName" => "Prénom",
        "BirthName" => "Nom de naissance",
        "Corpname" => "Raison sociale",
        "Source" => "Source",
        "CustodialHistory" => "Historique de conservation",
        "CustodialHistoryItem" => "Étape",
        other => other,
    }
    .to_owned()
}

#[derive(Template)]
#[template(path = "unite.html")]
struct UnitPage {
    page: Page,
    id: String,
    title: String,
    fields: Vec<(&'static str, String)>,
    parents: Vec<(String, String)>,
    children: Vec<(String, String)>,
    /// "et 1 234 autres", when there are more children than shown.
    more_children: Option<String>,
    description: Vec<DescriptionLine>,
    /// Whether the account may ask for its communication.
    may_request: bool,
    /// Whether the account may download its evidence bundle.
    may_prove: bool,
    files: Vec<FileRow>,
    rules: Vec<RuleRow>,
}

fn category_fr(c: RuleCategory) -> &'static str {
    match c {
        RuleCategory::AppraisalRule => "Durée d’utilité administrative",
        RuleCategory::AccessRule => "Communicabilité",
        RuleCategory::StorageRule => "Durée d’utilité courante",
        RuleCategory::DisseminationRule => "Diffusion",
        RuleCategory::ReuseRule => "Réutilisation",
        RuleCategory::ClassificationRule => "Classification",
        RuleCategory::HoldRule => "Gel",
    }
}

pub(crate) async fn unit(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(unit): Path<String>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::UnitRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(unit) = UnitId::new(&unit) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette unité d’archives n’existe pas.",
        );
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let found = blocking(move || {
        let Some(record) = archive.unit_record(&t, &unit)? else {
            return Ok(None);
        };
        // The parents' and the first children's titles, for their links.
        let title_of = |u: &UnitId| -> Result<(String, String), crate::ApiError> {
            let title = archive
                .catalog()
                .unit(&t, u)?
                .map(|(u, _)| u.title)
                .unwrap_or_else(|| u.to_string());
            Ok((u.to_string(), title))
        };
        let parents = record
            .unit
            .parents
            .iter()
            .map(title_of)
            .collect::<Result<Vec<_>, _>>()?;
        let children = record
            .details
            .children
            .iter()
            .take(CHILDREN_SHOWN)
            .map(title_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((record, parents, children)))
    })
    .await;
    let (record, parents, children) = match found {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Cette unité d’archives n’existe pas dans ce service, ou elle n’y est plus.",
            );
        }
        Err(e) => return refusal(e, Some(&session)),
    };
    let mut fields = vec![(
        "Dates",
        dates(
            record.unit.start_date.as_deref(),
            record.unit.end_date.as_deref(),
        ),
    )];
    if let Some(level) = &record.details.description_level {
        fields.push(("Niveau de description", level.clone()));
    }
    if let Some(agency) = &record.details.originating_agency {
        fields.push(("Service producteur", agency.clone()));
    }
    if !record.details.keywords.is_empty() {
        fields.push(("Mots-clés", record.details.keywords.join(", ")));
    }
    fields.push(("Identifiant", record.unit.id.to_string()));
    fields.push(("Versement", record.unit.operation.to_string()));
    let files = record
        .objects
        .iter()
        .map(|o| FileRow {
            name: o
                .filename
                .clone()
                .or_else(|| o.uri.clone())
                .unwrap_or_else(|| o.id.to_string()),
            format: o
                .format_name
                .clone()
                .or_else(|| o.mime_type.clone())
                .unwrap_or_else(|| "inconnu".to_owned()),
            size: o.size.map(fr::size).unwrap_or_default(),
            digest: o
                .digest
                .as_ref()
                .map(|d| format!("{} {}", d.algorithm.seda_name(), d.hex))
                .unwrap_or_default(),
            href: (!o.physical).then(|| format!("/unites/{}/fichiers/{}", record.unit.id, o.id)),
        })
        .collect();
    let own = record.unit.id.as_str();
    let rules = RuleCategory::ALL
        .into_iter()
        .flat_map(|c| {
            record.effective.rules.of(c).map(move |r| RuleRow {
                category: category_fr(c),
                rule: r.rule.rule.clone(),
                start: r
                    .rule
                    .start_date
                    .as_deref()
                    .map(fr::iso_date)
                    .unwrap_or_default(),
                end: r
                    .rule
                    .end_date
                    .as_deref()
                    .map(fr::iso_date)
                    .unwrap_or_default(),
                origin: if r.origin.unit == own {
                    "cette unité".to_owned()
                } else {
                    format!("héritée de {}", r.origin.unit)
                },
            })
        })
        .collect();
    html(
        StatusCode::OK,
        &UnitPage {
            page: Page::new(&record.unit.title, Some(&session)),
            id: record.unit.id.to_string(),
            may_request: carnac_model::access::decide(
                &principal,
                Action::DeliveryRequest,
                Some(&tenant),
                None,
            ) == carnac_model::access::Decision::Allow,
            may_prove: carnac_model::access::decide(
                &principal,
                Action::EvidenceRead,
                Some(&tenant),
                None,
            ) == carnac_model::access::Decision::Allow,
            title: record.unit.title.clone(),
            fields,
            parents,
            more_children: (record.details.children.len() > children.len()).then(|| {
                format!(
                    "et {} autres",
                    fr::integer((record.details.children.len() - children.len()) as u64)
                )
            }),
            children,
            description: carnac_archive::reading::outline(&record.unit.metadata)
                .into_iter()
                .map(|l| DescriptionLine {
                    indent: match l.depth {
                        0 => "n0",
                        1 => "n1",
                        2 => "n2",
                        3 => "n3",
                        _ => "n4",
                    },
                    label: element_label(&l.name),
                    text: l.text.unwrap_or_default(),
                })
                .collect(),
            files,
            rules,
        },
    )
}

/// A file of a unit, streamed from a copy checked against its digest (the API's download,
/// after the page's own decision).
pub(crate) async fn download(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((_unit, object)): Path<(String, String)>,
) -> Response {
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(Action::ObjectDownload), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if ObjectId::new(&object).is_err() {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Ce fichier n’existe pas.",
        );
    }
    match crate::routes::units::download(State(state), headers, Path((tenant.to_string(), object)))
        .await
    {
        Ok(r) if r.status() != StatusCode::GONE => r,
        Ok(_) => error_page(
            StatusCode::GONE,
            Some(&session),
            "Ce fichier n’est plus conservé : son unité a quitté l’archive.",
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

struct HistoryRow {
    time: String,
    label: &'static str,
    kind: String,
    outcome: &'static str,
    agent: String,
    seal: String,
}

#[derive(Template)]
#[template(path = "historique.html")]
struct HistoryPage {
    page: Page,
    id: String,
    events: Vec<HistoryRow>,
    more: bool,
}

/// Events a unit's history shows.
const HISTORY_EVENTS: usize = 200;

/// The lifecycle of a unit: the journal's events that concern it, each with its seal (the
/// API's lifecycle, under the same time limit and per-tenant gate).
pub(crate) async fn history(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(unit): Path<String>,
) -> Response {
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(Action::JournalRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(unit) = UnitId::new(&unit) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette unité d’archives n’existe pas.",
        );
    };
    let (_permit, interrupt) = match super::journal::journal_turn(&state, &tenant, &session).await {
        Ok(turn) => turn,
        Err(r) => return r,
    };
    let page = carnac_archive::report::JournalPage {
        after: 0,
        limit: HISTORY_EVENTS,
        interrupt,
    };
    let archive = state.archive.clone();
    let id = unit.to_string();
    let found = blocking(move || Ok(archive.lifecycle(&tenant, unit.as_str(), &page)?)).await;
    let lifecycle = match found {
        Ok(l) => l,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &HistoryPage {
            page: Page::new("Historique de l’unité", Some(&session)),
            id,
            more: lifecycle.more,
            events: lifecycle
                .events
                .iter()
                .map(|e| HistoryRow {
                    time: fr::timestamp(&e.time),
                    label: super::journal::event_label(&e.kind),
                    kind: e.kind.clone(),
                    outcome: super::journal::outcome_label(&e.outcome),
                    agent: e.agent.clone(),
                    seal: match &e.sealed_by {
                        Some((_, at)) => format!("scellé le {}", fr::timestamp(at)),
                        None => "pas encore scellé".to_owned(),
                    },
                })
                .collect(),
        },
    )
}

/// The evidence bundle of a unit, as a tar: its signed evidence report, the evidence record
/// of each of its files and what verifies them without the archive (journaled as the
/// report is).
pub(crate) async fn evidence(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(unit): Path<String>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::EvidenceRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(unit) = UnitId::new(&unit) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette unité d’archives n’existe pas.",
        );
    };
    let archive = state.archive.clone();
    let uploads = state.uploads.clone();
    let name = format!("preuves-{unit}.tar");
    let made = blocking(move || {
        super::tar_of(&uploads, "preuves", |dir| {
            archive.unit_evidence_bundle(&tenant, &unit, dir, &principal.login)?;
            Ok(())
        })
    })
    .await;
    match made {
        Ok(file) => super::attachment(file, "application/x-tar", &name),
        Err(e) => refusal(e, Some(&session)),
    }
}
