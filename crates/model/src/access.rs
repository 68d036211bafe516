//! Who may do what: the roles of accounts and the one decision function every request goes
//! through. Pure, so that the whole matrix (role × action × own tenant / another) is tested
//! here and the HTTP layer only has to name the action of each endpoint.

use crate::TenantId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The journal of the platform: operator actions that concern no tenant (listing tenants,
/// accounts of operators). Tenant identifiers starting with `_` are reserved for the archive.
pub const PLATFORM: &str = "_platform";

/// Whether `id` is reserved for the archive itself (no tenant may be created with it).
pub fn is_reserved(id: &TenantId) -> bool {
    id.as_str().starts_with('_')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the platform: tenants, referentials, accounts. Never sees content.
    Operator,
    /// Everything on its own tenants but administration.
    Archivist,
    /// Sends transfers, reads the replies of its own.
    Producer,
    /// The departmental archives: read the tenants it controls (and, later, visas).
    ControlAuthority,
    /// Journals and evidence only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Archivist,
        Role::Producer,
        Role::ControlAuthority,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Archivist => "archivist",
            Role::Producer => "producer",
            Role::ControlAuthority => "control-authority",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether accounts of this role work on tenants (all but the operator).
    pub fn needs_tenants(self) -> bool {
        self != Role::Operator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// People log in with a password; applications (Pastell, scripts) hold tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountKind {
    Person,
    Application,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Application => "application",
        }
    }

    pub fn parse(s: &str) -> Option<AccountKind> {
        match s {
            "person" => Some(AccountKind::Person),
            "application" => Some(AccountKind::Application),
            _ => None,
        }
    }
}

/// An authenticated account, as requests see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub login: String,
    pub role: Role,
    pub tenants: Vec<TenantId>,
}

/// What a request does. Tenant-scoped actions name their tenant in [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Who am I: any account.
    Identify,
    // Platform administration.
    TenantCreate,
    TenantList,
    TenantSuspend,
    /// Export a tenant whole (reversibility) and download the export.
    TenantExport,
    AccountCreate,
    AccountList,
    /// Disable or enable an account.
    AccountDisable,
    ReferentialImport,
    /// The tenant's referentials and their versions.
    ReferentialRead,
    // Content.
    TransferSubmit,
    /// An operation's status, ACK and ATR; a producer only for the transfers it sent.
    OperationRead,
    UnitSearch,
    UnitRead,
    ObjectDownload,
    /// Change the management rules of units (holds included).
    RulesChange,
    /// Correct a unit's descriptive metadata (where an access contract allows writing).
    UnitUpdate,
    /// Propose an elimination, withdraw it.
    EliminationPropose,
    /// An elimination, its bordereau and its documents: the archivists, and the producer and
    /// control authority who must read what they agree to or give their visa to.
    EliminationRead,
    /// The producer's agreement.
    EliminationAgree,
    /// The control authority's visa (Code du patrimoine R212-14).
    EliminationVisa,
    EliminationExecute,
    /// Ask for units to be communicated (a producer: its own records, or communicable ones).
    DeliveryRequest,
    /// A delivery, its documents and its package: a producer only its own requests.
    DeliveryRead,
    /// The control authority's authorisation of a derogation (Code du patrimoine L213-3).
    DeliveryAuthorize,
    /// Send units to the definitive archives, withdraw a transfer out not yet accepted.
    TransferOutPropose,
    /// A transfer out, its package and its documents.
    TransferOutRead,
    /// Give the definitive archives' acknowledgement or reply (the archivist who receives
    /// it, or the Archives départementales' own account).
    TransferOutReply,
    /// Give a producer its records back (the end of the contract), withdraw it.
    RestitutionPropose,
    /// A restitution, its package and its documents.
    RestitutionRead,
    /// The producer's answer, acknowledgement or reply to a restitution.
    RestitutionReply,
    // Proof.
    JournalRead,
    EvidenceRead,
    /// The platform's metrics (Prometheus): counts, never records.
    MetricsRead,
}

impl Action {
    pub const ALL: [Action; 34] = [
        Action::Identify,
        Action::TenantCreate,
        Action::TenantList,
        Action::TenantSuspend,
        Action::TenantExport,
        Action::AccountCreate,
        Action::AccountList,
        Action::AccountDisable,
        Action::ReferentialImport,
        Action::ReferentialRead,
        Action::TransferSubmit,
        Action::OperationRead,
        Action::UnitSearch,
        Action::UnitRead,
        Action::ObjectDownload,
        Action::RulesChange,
        Action::UnitUpdate,
        Action::EliminationPropose,
        Action::EliminationRead,
        Action::EliminationAgree,
        Action::EliminationVisa,
        Action::EliminationExecute,
        Action::DeliveryRequest,
        Action::DeliveryRead,
        Action::DeliveryAuthorize,
        Action::TransferOutPropose,
        Action::TransferOutRead,
        Action::TransferOutReply,
        Action::RestitutionPropose,
        Action::RestitutionRead,
        Action::RestitutionReply,
        Action::JournalRead,
        Action::EvidenceRead,
        Action::MetricsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Identify => "identify",
            Action::TenantCreate => "tenant_create",
            Action::TenantList => "tenant_list",
            Action::TenantSuspend => "tenant_suspend",
            Action::TenantExport => "tenant_export",
            Action::AccountCreate => "account_create",
            Action::AccountList => "account_list",
            Action::AccountDisable => "account_disable",
            Action::ReferentialImport => "referential_import",
            Action::ReferentialRead => "referential_read",
            Action::TransferSubmit => "transfer_submit",
            Action::OperationRead => "operation_read",
            Action::UnitSearch => "unit_search",
            Action::UnitRead => "unit_read",
            Action::RulesChange => "rules_change",
            Action::UnitUpdate => "unit_update",
            Action::EliminationPropose => "elimination_propose",
            Action::EliminationRead => "elimination_read",
            Action::EliminationAgree => "elimination_agree",
            Action::EliminationVisa => "elimination_visa",
            Action::EliminationExecute => "elimination_execute",
            Action::DeliveryRequest => "delivery_request",
            Action::DeliveryRead => "delivery_read",
            Action::DeliveryAuthorize => "delivery_authorize",
            Action::TransferOutPropose => "transfer_out_propose",
            Action::TransferOutRead => "transfer_out_read",
            Action::TransferOutReply => "transfer_out_reply",
            Action::RestitutionPropose => "restitution_propose",
            Action::RestitutionRead => "restitution_read",
            Action::RestitutionReply => "restitution_reply",
            Action::ObjectDownload => "object_download",
            Action::JournalRead => "journal_read",
            Action::EvidenceRead => "evidence_read",
            Action::MetricsRead => "metrics_read",
        }
    }

    /// Whether the action changes the archive's content (refused on a suspended tenant).
    pub fn writes_content(self) -> bool {
        matches!(self, Action::TransferSubmit | Action::UnitUpdate)
    }
}

/// The decision, with the reason of a refusal (journaled, and the code sent back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No valid credential (never returned by [`decide`], recorded by the caller).
    Unauthenticated,
    /// The role never does this.
    RoleForbids,
    /// The account is not bound to that tenant.
    OtherTenant,
    /// A producer asking about another account's transfer.
    NotOwner,
    /// Too many failed logins for this login or from this address: refused without checking
    /// the credentials (never returned by [`decide`]).
    Throttled,
    /// The request names nothing valid (a malformed identifier, an unknown route): refused
    /// before anything is decided (never returned by [`decide`]).
    InvalidRequest,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        *self == Decision::Allow
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::Unauthenticated => "unauthenticated",
            Decision::RoleForbids => "role_forbids",
            Decision::OtherTenant => "other_tenant",
            Decision::NotOwner => "not_owner",
            Decision::Throttled => "throttled",
            Decision::InvalidRequest => "invalid_request",
        }
    }
}

/// Which journal a request's event belongs to: the tenant's when it was allowed there, or
/// refused to an account that works on that tenant (its role forbids, or the transfer is
/// another producer's); otherwise the platform's, so that nobody writes into the journal of
/// a tenant they have no right on (no valid credential, an account of other tenants, a
/// throttled login, a malformed request).
pub fn journaled_in_tenant(
    who: Option<&Principal>,
    decision: &Decision,
    tenant: &TenantId,
) -> bool {
    let works_there = who.is_some_and(|p| p.role == Role::Operator || p.tenants.contains(tenant));
    works_there
        && matches!(
            decision,
            Decision::Allow | Decision::RoleForbids | Decision::NotOwner
        )
}

/// Whether `who` may do `action`, on `tenant` when the action concerns one; `owner` is the
/// account that sent the transfer an [`Action::OperationRead`] is about.
pub fn decide(
    who: &Principal,
    action: Action,
    tenant: Option<&TenantId>,
    owner: Option<&str>,
) -> Decision {
    use Action::*;
    use Role::*;
    let role_allows = action == Identify
        || match who.role {
            Operator => matches!(
                action,
                TenantCreate
                    | TenantList
                    | TenantSuspend
                    | TenantExport
                    | AccountCreate
                    | AccountList
                    | AccountDisable
                    | ReferentialImport
                    | ReferentialRead
                    | MetricsRead
            ),
            Archivist => matches!(
                action,
                ReferentialRead
                    | TransferSubmit
                    | OperationRead
                    | UnitSearch
                    | UnitRead
                    | ObjectDownload
                    | RulesChange
                    | UnitUpdate
                    | EliminationPropose
                    | EliminationRead
                    | EliminationExecute
                    | DeliveryRequest
                    | DeliveryRead
                    | TransferOutPropose
                    | TransferOutRead
                    | TransferOutReply
                    | RestitutionPropose
                    | RestitutionRead
                    | RestitutionReply
                    | JournalRead
                    | EvidenceRead
            ),
            Producer => matches!(
                action,
                TransferSubmit
                    | OperationRead
                    | EliminationRead
                    | EliminationAgree
                    | DeliveryRequest
                    | DeliveryRead
                    | TransferOutRead
                    | RestitutionRead
                    | RestitutionReply
            ),
            ControlAuthority => matches!(
                action,
                ReferentialRead
                    | OperationRead
                    | EliminationRead
                    | EliminationVisa
                    | DeliveryRead
                    | DeliveryAuthorize
                    | TransferOutRead
                    | TransferOutReply
                    | RestitutionRead
                    | UnitSearch
                    | UnitRead
                    | ObjectDownload
                    | JournalRead
                    | EvidenceRead
            ),
            Auditor => matches!(action, JournalRead | EvidenceRead),
        };
    if !role_allows {
        return Decision::RoleForbids;
    }
    // The operator works across tenants; everyone else only on the tenants it is bound to.
    if who.role != Operator
        && let Some(t) = tenant
        && !who.tenants.contains(t)
    {
        return Decision::OtherTenant;
    }
    if who.role == Producer && action == OperationRead && owner != Some(who.login.as_str()) {
        return Decision::NotOwner;
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> Principal {
        Principal {
            login: "someone".into(),
            role,
            tenants: vec![TenantId::new("own").unwrap()],
        }
    }

    /// The whole matrix, written out: what each role may do on its own tenant.
    #[test]
    fn each_role_does_exactly_its_part() {
        use Action::*;
        let expected: [(Role, &[Action]); 5] = [
            (
                Role::Operator,
                &[
                    Identify,
                    TenantCreate,
                    TenantList,
                    TenantSuspend,
                    TenantExport,
                    AccountCreate,
                    AccountList,
                    AccountDisable,
                    ReferentialImport,
                    ReferentialRead,
                    MetricsRead,
                ],
            ),
            (
                Role::Archivist,
                &[
                    Identify,
                    ReferentialRead,
                    TransferSubmit,
                    OperationRead,
                    UnitSearch,
                    UnitRead,
                    ObjectDownload,
                    RulesChange,
                    UnitUpdate,
                    EliminationPropose,
                    EliminationRead,
                    EliminationExecute,
                    DeliveryRequest,
                    DeliveryRead,
                    TransferOutPropose,
                    TransferOutRead,
                    TransferOutReply,
                    RestitutionPropose,
                    RestitutionRead,
                    RestitutionReply,
                    JournalRead,
                    EvidenceRead,
                ],
            ),
            (
                Role::Producer,
                &[
                    Identify,
                    TransferSubmit,
                    OperationRead,
                    EliminationRead,
                    EliminationAgree,
                    DeliveryRequest,
                    DeliveryRead,
                    TransferOutRead,
                    RestitutionRead,
                    RestitutionReply,
                ],
            ),
            (
                Role::ControlAuthority,
                &[
                    Identify,
                    ReferentialRead,
                    OperationRead,
                    EliminationRead,
                    EliminationVisa,
                    DeliveryRead,
                    DeliveryAuthorize,
                    TransferOutRead,
                    TransferOutReply,
                    RestitutionRead,
                    UnitSearch,
                    UnitRead,
                    ObjectDownload,
                    JournalRead,
                    EvidenceRead,
                ],
            ),
            (Role::Auditor, &[Identify, JournalRead, EvidenceRead]),
        ];
        let own = TenantId::new("own").unwrap();
        let other = TenantId::new("other").unwrap();
        for (role, allowed) in expected {
            let p = who(role);
            for action in Action::ALL {
                let on_own = decide(&p, action, Some(&own), Some("someone"));
                assert_eq!(
                    on_own.allowed(),
                    allowed.contains(&action),
                    "{role} {action:?} on its own tenant: {on_own:?}"
                );
                let on_other = decide(&p, action, Some(&other), Some("someone"));
                let expect_other = allowed.contains(&action) && role == Role::Operator;
                assert_eq!(
                    on_other.allowed(),
                    expect_other,
                    "{role} {action:?} on another tenant: {on_other:?}"
                );
                if allowed.contains(&action) && role != Role::Operator {
                    assert_eq!(on_other, Decision::OtherTenant);
                }
            }
        }
    }

    #[test]
    fn a_producer_reads_only_the_replies_of_its_own_transfers() {
        let p = who(Role::Producer);
        let own = TenantId::new("own").unwrap();
        assert!(decide(&p, Action::OperationRead, Some(&own), Some("someone")).allowed());
        assert_eq!(
            decide(&p, Action::OperationRead, Some(&own), Some("another")),
            Decision::NotOwner
        );
        assert_eq!(
            decide(&p, Action::OperationRead, Some(&own), None),
            Decision::NotOwner
        );
        // The archivist of the tenant reads them all.
        assert!(
            decide(
                &who(Role::Archivist),
                Action::OperationRead,
                Some(&own),
                Some("x")
            )
            .allowed()
        );
    }

    #[test]
    fn names_round_trip_and_reserved_ids_are_recognised() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
        assert!(is_reserved(&TenantId::new(PLATFORM).unwrap()));
        assert!(!is_reserved(&TenantId::new("213500283").unwrap()));
        assert_eq!(
            serde_json::to_string(&Role::ControlAuthority).unwrap(),
            "\"control-authority\""
        );
    }

    #[test]
    fn refusals_go_to_the_journal_of_a_tenant_the_account_works_on_only() {
        let t = TenantId::new("ta").unwrap();
        let of = |role, tenants: &[&str]| Principal {
            login: "x".into(),
            role,
            tenants: tenants.iter().map(|t| TenantId::new(*t).unwrap()).collect(),
        };
        let mine = of(Role::Producer, &["ta"]);
        let theirs = of(Role::Archivist, &["tb"]);
        let operator = of(Role::Operator, &[]);
        assert!(journaled_in_tenant(Some(&mine), &Decision::Allow, &t));
        assert!(journaled_in_tenant(Some(&mine), &Decision::RoleForbids, &t));
        assert!(journaled_in_tenant(Some(&mine), &Decision::NotOwner, &t));
        assert!(journaled_in_tenant(
            Some(&operator),
            &Decision::RoleForbids,
            &t
        ));
        // decide() says RoleForbids before it looks at the tenant: still not ta's journal.
        assert!(!journaled_in_tenant(
            Some(&theirs),
            &Decision::RoleForbids,
            &t
        ));
        assert!(!journaled_in_tenant(
            Some(&theirs),
            &Decision::OtherTenant,
            &t
        ));
        assert!(!journaled_in_tenant(None, &Decision::Unauthenticated, &t));
        assert!(!journaled_in_tenant(
            Some(&mine),
            &Decision::InvalidRequest,
            &t
        ));
        assert!(!journaled_in_tenant(None, &Decision::Throttled, &t));
    }
}
