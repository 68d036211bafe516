//! What the API answers, as types: each JSON body a handler sends is one of these, built
//! from the archive's own types, so that a change inside the archive (a catalog row gaining
//! a field) never reaches the wire unseen. `openapi.json` describes each under
//! `components/schemas` by the same name; the role-matrix test validates every answer it
//! gets against the schema the document gives for its route.
//!
//! About 1,000 lines because every body the API sends is here, one small type each, so
//! that the wire is reviewed in one place beside `openapi.json`.

use carnac_catalog::{
    Account, Facet, ObjectRow, Operation, OperationState, QueuedTransfer, ReferentialKind,
    ReferentialVersion, ReferentialVersionInfo, SearchOrder, Tenant, TokenRow, UnitPage, UnitRule,
    UnitSummary,
};
use carnac_model::access::{AccountKind, Principal, Role};
use carnac_model::journal::OperationKind;
use carnac_model::{ObjectId, OperationId, Status, TenantId, Timestamp, UnitId};
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct Health {
    pub status: &'static str,
}

/// `GET /api/v1/me`.
#[derive(Serialize)]
pub(crate) struct Me {
    pub login: String,
    pub role: Role,
    pub tenants: Vec<TenantId>,
}

impl From<Principal> for Me {
    fn from(p: Principal) -> Me {
        Me {
            login: p.login,
            role: p.role,
            tenants: p.tenants,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TenantView {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
    pub suspended_at: Option<Timestamp>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> TenantView {
        TenantView {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            suspended_at: t.suspended_at,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TenantList {
    pub tenants: Vec<TenantView>,
}

#[derive(Serialize)]
pub(crate) struct TenantCreated {
    pub tenant: String,
    pub operation: OperationId,
}

#[derive(Serialize)]
pub(crate) struct TenantSuspension {
    pub tenant: String,
    pub suspended: bool,
}

#[derive(Serialize)]
pub(crate) struct ReferentialView {
    pub kind: &'static str,
    pub version: u64,
    pub imported_at: Timestamp,
    pub operation: OperationId,
    /// The referential as the archive keeps it (its JSON form).
    pub content: serde_json::Value,
}

impl From<(ReferentialKind, ReferentialVersion)> for ReferentialView {
    fn from((kind, r): (ReferentialKind, ReferentialVersion)) -> ReferentialView {
        ReferentialView {
            kind: kind.as_str(),
            version: r.version,
            imported_at: r.imported_at,
            operation: r.operation,
            content: r.content,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Referentials {
    pub referentials: Vec<ReferentialView>,
}

#[derive(Serialize)]
pub(crate) struct ImportedVersion {
    pub kind: &'static str,
    pub version: u64,
    pub entries: usize,
}

#[derive(Serialize)]
pub(crate) struct SkippedFile {
    pub file: String,
    pub reason: String,
}

#[derive(Serialize)]
pub(crate) struct ReferentialImport {
    pub operation: OperationId,
    pub versions: Vec<ImportedVersion>,
    pub skipped: Vec<SkippedFile>,
}

impl From<carnac_archive::ImportOutcome> for ReferentialImport {
    fn from(o: carnac_archive::ImportOutcome) -> ReferentialImport {
        ReferentialImport {
            operation: o.operation,
            versions: o
                .versions
                .iter()
                .zip(&o.counts)
                .map(|((kind, version), (_, entries))| ImportedVersion {
                    kind: kind.as_str(),
                    version: *version,
                    entries: *entries,
                })
                .collect(),
            skipped: o
                .skipped
                .into_iter()
                .map(|(file, reason)| SkippedFile { file, reason })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct VersionView {
    pub version: u64,
    pub operation: OperationId,
    pub imported_at: Timestamp,
}

impl From<ReferentialVersionInfo> for VersionView {
    fn from(v: ReferentialVersionInfo) -> VersionView {
        VersionView {
            version: v.version,
            operation: v.operation,
            imported_at: v.imported_at,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ReferentialVersions {
    pub kind: String,
    pub versions: Vec<VersionView>,
}

/// An account as it may be shown: never a password hash.
#[derive(Serialize)]
pub(crate) struct AccountView {
    pub login: String,
    pub role: Role,
    pub kind: AccountKind,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    pub tenants: Vec<TenantId>,
    pub agencies: Vec<String>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> AccountView {
        AccountView {
            login: a.login,
            role: a.role,
            kind: a.kind,
            created_at: a.created_at,
            disabled_at: a.disabled_at,
            tenants: a.tenants,
            agencies: a.agencies,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Accounts {
    pub accounts: Vec<AccountView>,
}

#[derive(Serialize)]
pub(crate) struct AccountCreated {
    pub account: AccountView,
    pub token_id: Option<String>,
    /// The API token, shown this once.
    pub token: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct AccountState {
    pub login: String,
    pub disabled: bool,
}

/// A token by its id (the beginning of its SHA-256), never the token.
#[derive(Serialize)]
pub(crate) struct TokenView {
    pub id: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> TokenView {
        TokenView {
            id: t.id,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct AccountTokens {
    pub login: String,
    pub tokens: Vec<TokenView>,
}

#[derive(Serialize)]
pub(crate) struct TokenRevoked {
    pub login: String,
    pub token: String,
    pub revoked: bool,
}

/// `202` to a transfer: received, its ingest to come.
#[derive(Serialize)]
pub(crate) struct TransferReceived {
    pub operation: OperationId,
    pub state: &'static str,
    pub bytes: u64,
    pub received_at: Timestamp,
    pub status_url: String,
}

impl From<&QueuedTransfer> for TransferReceived {
    fn from(t: &QueuedTransfer) -> TransferReceived {
        TransferReceived {
            operation: t.operation.clone(),
            state: "RECEIVED",
            bytes: t.bytes,
            received_at: t.received_at.clone(),
            status_url: format!("/api/v1/tenants/{}/operations/{}", t.tenant, t.operation),
        }
    }
}

/// An operation: a transfer still waiting for its ingest, or an operation that started.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum OperationView {
    Received {
        operation: OperationId,
        kind: &'static str,
        state: &'static str,
        received_at: Timestamp,
        bytes: u64,
        has_atr: bool,
    },
    Started {
        operation: OperationId,
        kind: OperationKind,
        /// `RUNNING` or `DONE`.
        state: &'static str,
        status: Option<Status>,
        started_at: Timestamp,
        ended_at: Option<Timestamp>,
        summary: Option<serde_json::Value>,
        has_atr: bool,
    },
}

impl From<QueuedTransfer> for OperationView {
    fn from(q: QueuedTransfer) -> OperationView {
        OperationView::Received {
            operation: q.operation,
            kind: "INGEST",
            state: "RECEIVED",
            received_at: q.received_at,
            bytes: q.bytes,
            has_atr: false,
        }
    }
}

impl From<Operation> for OperationView {
    fn from(o: Operation) -> OperationView {
        OperationView::Started {
            operation: o.id,
            kind: o.kind,
            state: match o.state {
                OperationState::Running => "RUNNING",
                OperationState::Done => "DONE",
            },
            status: o.status,
            started_at: o.started_at,
            ended_at: o.ended_at,
            summary: o.summary,
            has_atr: o.has_reply,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct UnitSummaryView {
    pub id: UnitId,
    pub title: String,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub originating_agency: Option<String>,
}

impl From<UnitSummary> for UnitSummaryView {
    fn from(u: UnitSummary) -> UnitSummaryView {
        UnitSummaryView {
            id: u.id,
            title: u.title,
            description_level: u.description_level,
            start_date: u.start_date,
            end_date: u.end_date,
            originating_agency: u.originating_agency,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct FacetView {
    pub value: String,
    pub count: u64,
}

impl From<Facet> for FacetView {
    fn from(f: Facet) -> FacetView {
        FacetView {
            value: f.value,
            count: f.count,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Facets {
    pub agency: Vec<FacetView>,
    pub year: Vec<FacetView>,
}

/// A page of a search.
#[derive(Serialize)]
pub(crate) struct SearchPage {
    /// Exact, or (`total_exact` false) at least this many.
    pub total: u64,
    pub total_exact: bool,
    pub order: SearchOrder,
    pub page: u64,
    pub per_page: u64,
    pub units: Vec<UnitSummaryView>,
    pub facets: Facets,
}

impl SearchPage {
    pub(crate) fn new(found: UnitPage, page: u64, per_page: u64) -> SearchPage {
        SearchPage {
            total: found.total,
            total_exact: found.total_exact,
            order: found.order,
            page,
            per_page,
            units: found.units.into_iter().map(Into::into).collect(),
            facets: Facets {
                agency: found.agencies.into_iter().map(Into::into).collect(),
                year: found.years.into_iter().map(Into::into).collect(),
            },
        }
    }
}

#[derive(Serialize)]
pub(crate) struct DigestView {
    /// As SEDA names it (`SHA-512`).
    pub algorithm: &'static str,
    pub value: String,
}

#[derive(Serialize)]
pub(crate) struct FormatView {
    pub puid: Option<String>,
    pub name: Option<String>,
    pub mime_type: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ObjectView {
    pub id: ObjectId,
    pub group: ObjectId,
    pub version: Option<String>,
    pub physical: bool,
    pub uri: Option<String>,
    pub filename: Option<String>,
    pub size: Option<u64>,
    pub digest: Option<DigestView>,
    pub format: FormatView,
}

impl From<ObjectRow> for ObjectView {
    fn from(o: ObjectRow) -> ObjectView {
        ObjectView {
            id: o.id,
            group: o.group,
            version: o.version,
            physical: o.physical,
            uri: o.uri,
            filename: o.filename,
            size: o.size,
            digest: o.digest.map(|d| DigestView {
                algorithm: d.algorithm.seda_name(),
                value: d.hex,
            }),
            format: FormatView {
                puid: o.puid,
                name: o.format_name,
                mime_type: o.mime_type,
            },
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RuleView {
    pub category: String,
    pub rule: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl From<UnitRule> for RuleView {
    fn from(r: UnitRule) -> RuleView {
        RuleView {
            category: r.category,
            rule: r.rule,
            start_date: r.start_date,
            end_date: r.end_date,
        }
    }
}

/// What a `HoldRule` says besides its rule.
#[derive(Serialize)]
pub(crate) struct HoldView {
    pub end_date: Option<String>,
    pub owner: Option<String>,
    pub reason: Option<String>,
    pub reassessing_date: Option<String>,
    pub prevent_rearrangement: Option<bool>,
}

/// One rule as a unit declares it.
#[derive(Serialize)]
pub(crate) struct DeclaredRuleView {
    pub rule: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// `Management`, `ManagementMetadata` (the package's, on a root unit) or `Change`.
    pub given_in: &'static str,
    /// SEDA 1.0's duration given in the transfer.
    pub given_duration: Option<String>,
    pub hold: Option<HoldView>,
}

impl From<&carnac_model::rules::Rule> for DeclaredRuleView {
    fn from(r: &carnac_model::rules::Rule) -> Self {
        use carnac_model::rules::GivenIn;
        let h = &r.hold;
        DeclaredRuleView {
            rule: r.rule.clone(),
            start_date: r.start_date.clone(),
            end_date: r.end_date.clone(),
            given_in: match r.given_in {
                GivenIn::Management => "Management",
                GivenIn::ManagementMetadata => "ManagementMetadata",
                GivenIn::Change => "Change",
            },
            given_duration: r.given_duration.clone(),
            hold: (!h.is_empty()).then(|| HoldView {
                end_date: h.end_date.clone(),
                owner: h.owner.clone(),
                reason: h.reason.clone(),
                reassessing_date: h.reassessing_date.clone(),
                prevent_rearrangement: h.prevent_rearrangement,
            }),
        }
    }
}

/// What a unit declares for one category.
#[derive(Serialize)]
pub(crate) struct CategoryView {
    pub category: &'static str,
    pub rules: Vec<DeclaredRuleView>,
    pub prevent_inheritance: bool,
    pub ref_non_rule_ids: Vec<String>,
    pub final_action: Option<&'static str>,
}

/// A unit's own management rules, as given.
#[derive(Serialize)]
pub(crate) struct ManagementView {
    pub categories: Vec<CategoryView>,
}

impl From<&carnac_model::rules::Management> for ManagementView {
    fn from(m: &carnac_model::rules::Management) -> Self {
        ManagementView {
            categories: m
                .categories
                .iter()
                .map(|c| CategoryView {
                    category: c.category.as_str(),
                    rules: c.rules.iter().map(Into::into).collect(),
                    prevent_inheritance: c.prevent_inheritance,
                    ref_non_rule_ids: c.ref_non_rule_ids.clone(),
                    final_action: c.final_action.map(|a| a.as_str()),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct OriginView {
    pub unit: String,
    pub originating_agency: Option<String>,
}

impl From<&carnac_model::rules::Origin> for OriginView {
    fn from(o: &carnac_model::rules::Origin) -> Self {
        OriginView {
            unit: o.unit.clone(),
            originating_agency: o.originating_agency.clone(),
        }
    }
}

/// A rule a unit holds, its own or inherited, with where it comes from.
#[derive(Serialize)]
pub(crate) struct EffectiveRuleView {
    pub category: &'static str,
    #[serde(flatten)]
    pub rule: DeclaredRuleView,
    pub origin: OriginView,
    pub inherited: bool,
}

#[derive(Serialize)]
pub(crate) struct EffectiveFinalActionView {
    pub category: &'static str,
    pub final_action: &'static str,
    pub origin: OriginView,
    pub inherited: bool,
    /// Declared nowhere: appraisal's Keep for a unit of an originating agency.
    pub implicit: bool,
}

/// A unit's effective rules: what every decision about it reads.
#[derive(Serialize)]
pub(crate) struct EffectiveRulesView {
    /// False while a unit it inherits from (or itself) has not had its management filled.
    pub complete: bool,
    pub rules: Vec<EffectiveRuleView>,
    pub final_actions: Vec<EffectiveFinalActionView>,
}

impl EffectiveRulesView {
    fn of(unit: &UnitId, e: &carnac_archive::rules::UnitEffectiveRules) -> Self {
        let inherited = |o: &carnac_model::rules::Origin| o.unit != unit.as_str();
        EffectiveRulesView {
            complete: e.complete,
            rules: e
                .rules
                .rules
                .iter()
                .map(|r| EffectiveRuleView {
                    category: r.category.as_str(),
                    rule: (&r.rule).into(),
                    origin: (&r.origin).into(),
                    inherited: inherited(&r.origin),
                })
                .collect(),
            final_actions: e
                .rules
                .final_actions
                .iter()
                .map(|a| EffectiveFinalActionView {
                    category: a.category.as_str(),
                    final_action: a.final_action.as_str(),
                    origin: (&a.origin).into(),
                    inherited: inherited(&a.origin),
                    implicit: a.implicit,
                })
                .collect(),
        }
    }
}

/// One unit: its place in the tree, metadata (the SEDA XML kept whole), rules, keywords,
/// objects.
#[derive(Serialize)]
pub(crate) struct UnitView {
    pub id: UnitId,
    pub title: String,
    pub operation: OperationId,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub originating_agency: Option<String>,
    pub parents: Vec<UnitId>,
    pub children: Vec<UnitId>,
    pub keywords: Vec<String>,
    /// Its own rules, flat, as recorded at ingest.
    pub rules: Vec<RuleView>,
    /// Its own management rules as given; null until a unit ingested before they were kept
    /// is filled.
    pub management: Option<ManagementView>,
    pub effective_rules: EffectiveRulesView,
    pub object_groups: Vec<ObjectId>,
    pub objects: Vec<ObjectView>,
    pub metadata: String,
}

impl From<carnac_archive::reading::UnitRecord> for UnitView {
    fn from(r: carnac_archive::reading::UnitRecord) -> UnitView {
        let (unit, details) = (r.unit, r.details);
        let effective_rules = EffectiveRulesView::of(&unit.id, &r.effective);
        UnitView {
            id: unit.id,
            title: unit.title,
            operation: unit.operation,
            description_level: details.description_level,
            start_date: unit.start_date,
            end_date: unit.end_date,
            originating_agency: details.originating_agency,
            parents: unit.parents,
            children: details.children,
            keywords: details.keywords,
            rules: details.rules.into_iter().map(Into::into).collect(),
            management: details.management.as_ref().map(Into::into),
            effective_rules,
            object_groups: details.object_groups,
            objects: r.objects.into_iter().map(Into::into).collect(),
            metadata: unit.metadata,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct EventView {
    pub sequence: u64,
    pub kind: String,
    pub time: String,
    pub outcome: String,
    pub operation: String,
    pub agent: String,
    /// The seal that covers it: `[its last event, when it was stamped]`, if sealed yet.
    pub sealed_by: Option<(u64, String)>,
}

impl From<carnac_archive::report::ReportedEvent> for EventView {
    fn from(e: carnac_archive::report::ReportedEvent) -> EventView {
        EventView {
            sequence: e.sequence,
            kind: e.kind,
            time: e.time,
            outcome: e.outcome,
            operation: e.operation,
            agent: e.agent,
            sealed_by: e.sealed_by,
        }
    }
}

/// A page of journal events.
#[derive(Serialize)]
pub(crate) struct JournalView {
    pub events: Vec<EventView>,
    pub more: bool,
    /// Ask again with `after` = this to read on.
    pub next_after: Option<u64>,
}

/// `POST …/rules/changes`: what changed, unit by unit, and what did not, and why.
#[derive(Serialize)]
pub(crate) struct RulesChangeView {
    pub operation: Option<OperationId>,
    pub dry_run: bool,
    pub changed: Vec<UnitRulesChangedView>,
    pub unchanged: Vec<UnitRulesUnchangedView>,
}

#[derive(Serialize)]
pub(crate) struct UnitRulesChangedView {
    pub id: UnitId,
    pub changes: Vec<RuleChangeView>,
}

#[derive(Serialize)]
pub(crate) struct RuleChangeView {
    pub category: &'static str,
    pub action: String,
    pub rule: Option<String>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[derive(Serialize)]
pub(crate) struct UnitRulesUnchangedView {
    pub id: String,
    pub reasons: Vec<String>,
}

impl From<carnac_archive::rules::RulesChangeReport> for RulesChangeView {
    fn from(r: carnac_archive::rules::RulesChangeReport) -> Self {
        RulesChangeView {
            operation: r.operation,
            dry_run: r.dry_run,
            changed: r
                .changed
                .into_iter()
                .map(|u| UnitRulesChangedView {
                    id: u.id,
                    changes: u
                        .changes
                        .into_iter()
                        .map(|c| RuleChangeView {
                            category: c.category.as_str(),
                            action: c.action,
                            rule: c.rule,
                            before: c.before,
                            after: c.after,
                        })
                        .collect(),
                })
                .collect(),
            unchanged: r
                .unchanged
                .into_iter()
                .map(|u| UnitRulesUnchangedView {
                    id: u.id,
                    reasons: u.reasons,
                })
                .collect(),
        }
    }
}

/// One unit of an elimination: its status, why it is out if it is, its bordereau line.
#[derive(Serialize)]
pub(crate) struct EliminationUnitView {
    pub id: String,
    pub status: &'static str,
    pub reason: Option<serde_json::Value>,
    pub record: serde_json::Value,
}

/// An elimination: its state, every step (who, when, what), its bordereau's units and the
/// units of the selection left out, with why.
#[derive(Serialize)]
pub(crate) struct EliminationView {
    pub id: OperationId,
    /// `elimination`, or `transfer_out` (which goes the same way).
    pub kind: &'static str,
    pub state: &'static str,
    pub at: String,
    pub seda_version: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub steps: Vec<serde_json::Value>,
    pub totals: serde_json::Value,
    pub units: Vec<EliminationUnitView>,
    pub excluded: Vec<EliminationUnitView>,
    pub purge_pending: bool,
    pub execution: Option<serde_json::Value>,
}

impl From<carnac_archive::elimination::EliminationReport> for EliminationView {
    fn from(r: carnac_archive::elimination::EliminationReport) -> Self {
        let unit = |u: carnac_archive::elimination::EliminationUnit| EliminationUnitView {
            id: u.id,
            status: u.status.as_str(),
            reason: u.reason,
            record: u.record,
        };
        EliminationView {
            id: r.id,
            kind: r.kind.as_str(),
            state: r.state.as_str(),
            at: r.at,
            seda_version: r.seda_version,
            proposed_by: r.proposed_by,
            proposed_at: r.proposed_at,
            steps: r.steps,
            totals: r.totals,
            units: r.units.into_iter().map(unit).collect(),
            excluded: r.excluded.into_iter().map(unit).collect(),
            purge_pending: r.purge_pending,
            execution: r.execution,
        }
    }
}

/// `GET …/eliminations`: newest first, without their units.
#[derive(Serialize)]
pub(crate) struct EliminationList {
    pub eliminations: Vec<EliminationSummaryView>,
}

#[derive(Serialize)]
pub(crate) struct EliminationSummaryView {
    pub id: OperationId,
    pub state: &'static str,
    pub at: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub totals: serde_json::Value,
}

impl From<carnac_catalog::EliminationRow> for EliminationSummaryView {
    fn from(r: carnac_catalog::EliminationRow) -> Self {
        EliminationSummaryView {
            id: r.id,
            state: r.state.as_str(),
            at: r.at,
            proposed_by: r.proposed_by,
            proposed_at: r.proposed_at.to_string(),
            totals: r.totals,
        }
    }
}

/// What answers for a unit destroyed by an elimination (410).
#[derive(Serialize)]
pub(crate) struct TombstoneView {
    pub error: ErrorBody,
    pub tombstone: TombstoneBody,
}

#[derive(Serialize)]
pub(crate) struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
pub(crate) struct TombstoneBody {
    pub unit: UnitId,
    pub elimination: OperationId,
    pub destroyed_at: String,
    pub record: serde_json::Value,
}

impl From<carnac_catalog::Tombstone> for TombstoneView {
    fn from(t: carnac_catalog::Tombstone) -> Self {
        TombstoneView {
            error: match t.record.get("transferred_to").and_then(|a| a.as_str()) {
                // Its tenant closed, every copy destroyed (the tenant has its export).
                Some(_) if t.record.get("closure") == Some(&serde_json::Value::Bool(true)) => {
                    ErrorBody {
                        code: "closed",
                        message: format!(
                            "unit {} was purged on {} when its tenant closed ({})",
                            t.unit, t.destroyed_at, t.elimination
                        ),
                    }
                }
                // Given back to its producer, every copy here destroyed.
                Some(to) if t.record.get("restitution") == Some(&serde_json::Value::Bool(true)) => {
                    ErrorBody {
                        code: "returned",
                        message: format!(
                            "unit {} was returned on {} to its producer {to} by restitution {}",
                            t.unit, t.destroyed_at, t.elimination
                        ),
                    }
                }
                // Gone to the definitive archives, not destroyed: said where.
                Some(to) => ErrorBody {
                    code: "transferred",
                    message: format!(
                        "unit {} was transferred on {} to {to}{} by transfer out {}",
                        t.unit,
                        t.destroyed_at,
                        t.record
                            .get("remote_identifier")
                            .and_then(|r| r.as_str())
                            .map(|r| format!(" (there {r})"))
                            .unwrap_or_default(),
                        t.elimination
                    ),
                },
                None => ErrorBody {
                    code: "destroyed",
                    message: format!(
                        "unit {} was destroyed on {} by elimination {}",
                        t.unit, t.destroyed_at, t.elimination
                    ),
                },
            },
            tombstone: TombstoneBody {
                unit: t.unit,
                elimination: t.elimination,
                destroyed_at: t.destroyed_at.to_string(),
                record: t.record,
            },
        }
    }
}

/// A delivery: its request, its state, every step, the units a derogation must cover, and
/// its package while kept.
#[derive(Serialize)]
pub(crate) struct DeliveryView {
    pub id: OperationId,
    pub state: &'static str,
    pub requested_by: String,
    pub requested_at: String,
    pub request: serde_json::Value,
    pub restricted: Vec<UnitId>,
    pub steps: Vec<serde_json::Value>,
    pub package: Option<serde_json::Value>,
    pub expires_at: Option<String>,
}

impl From<carnac_catalog::DeliveryRow> for DeliveryView {
    fn from(r: carnac_catalog::DeliveryRow) -> Self {
        DeliveryView {
            id: r.id,
            state: r.state.as_str(),
            requested_by: r.requested_by,
            requested_at: r.requested_at.to_string(),
            request: r.request,
            restricted: r.restricted,
            steps: r.steps,
            package: r.package,
            expires_at: r.expires_at.map(|t| t.to_string()),
        }
    }
}

/// `GET …/deliveries`: newest first.
#[derive(Serialize)]
pub(crate) struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
}

/// `GET …/transfers-out`: newest first, without their units.
#[derive(Serialize)]
pub(crate) struct TransferOutList {
    pub transfers_out: Vec<EliminationSummaryView>,
}

/// `GET …/restitutions`: newest first, without their units.
#[derive(Serialize)]
pub(crate) struct RestitutionList {
    pub restitutions: Vec<EliminationSummaryView>,
}

/// A correction of a unit's descriptive metadata.
#[derive(Serialize)]
pub(crate) struct MetadataCorrectionView {
    pub unit: UnitId,
    /// The `UNIT_METADATA_CHANGE` operation; null when nothing changed.
    pub operation: Option<OperationId>,
    pub access_contract: Option<String>,
    pub changes: Vec<carnac_archive::metadata::FieldChange>,
}

impl From<carnac_archive::metadata::MetadataCorrection> for MetadataCorrectionView {
    fn from(c: carnac_archive::metadata::MetadataCorrection) -> Self {
        MetadataCorrectionView {
            unit: c.unit,
            operation: c.operation,
            access_contract: c.access_contract,
            changes: c.changes,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct MetadataHistoryItem {
    pub operation: OperationId,
    pub changed_at: Timestamp,
    pub agent: String,
    pub changes: serde_json::Value,
}

/// The corrections of a unit, newest first.
#[derive(Serialize)]
pub(crate) struct MetadataHistoryView {
    pub unit: UnitId,
    pub corrections: Vec<MetadataHistoryItem>,
}

impl MetadataHistoryView {
    pub fn of(unit: UnitId, rows: Vec<carnac_catalog::MetadataHistoryRow>) -> Self {
        MetadataHistoryView {
            unit,
            corrections: rows
                .into_iter()
                .map(|r| MetadataHistoryItem {
                    operation: r.operation,
                    changed_at: r.changed_at,
                    agent: r.agent,
                    changes: r.changes,
                })
                .collect(),
        }
    }
}

/// One correction with the metadata before and after it.
#[derive(Serialize)]
pub(crate) struct MetadataVersionView {
    pub unit: UnitId,
    pub operation: OperationId,
    pub changed_at: Timestamp,
    pub agent: String,
    pub changes: serde_json::Value,
    pub previous: String,
    pub current: String,
}

impl From<(UnitId, carnac_catalog::MetadataHistoryRow)> for MetadataVersionView {
    fn from((unit, r): (UnitId, carnac_catalog::MetadataHistoryRow)) -> Self {
        MetadataVersionView {
            unit,
            operation: r.operation,
            changed_at: r.changed_at,
            agent: r.agent,
            changes: r.changes,
            previous: r.previous,
            current: r.current,
        }
    }
}

/// A tenant's exports, recorded or running.
#[derive(Serialize)]
pub(crate) struct ExportList {
    pub exports: Vec<carnac_archive::export_jobs::ExportJobView>,
}
