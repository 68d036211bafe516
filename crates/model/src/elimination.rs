//! An elimination's life, as French archives practise it (Code du patrimoine R212-14: no
//! destruction without the visa of the control authority): an archivist proposes, the
//! producer agrees, the control authority grants its visa (for all or part of the list) or
//! refuses it, an archivist executes. A proposal may be withdrawn until it is executed.
//!
//! ```text
//! proposed ─agree─▶ agreed ─visa─▶ visa_granted | visa_partly_granted ─execute─▶ executing
//!     │               │                                                  │ complete
//!     │               └─visa refused─▶ visa_refused                      ▼
//!     └─agreement refused─▶ agreement_refused                         executed
//! (proposed, agreed, visa_granted, visa_partly_granted) ─withdraw─▶ withdrawn
//! ```
//!
//! While an elimination is open its units belong to it: no other operation takes them. An
//! execution, once begun, is not withdrawn: it destroys its units in steps and is completed,
//! after a stop too.

use serde::{Deserialize, Serialize};

/// What takes units out of the archive by the same steps (a selection analysed, an
/// authority's answer, an execution in steps leaving tombstones): an elimination destroys
/// them; a transfer out gives them to the definitive archives, then purges them; a
/// restitution gives them back to their producer, then purges them.
///
/// ```text
/// transfer out: sent ─reply KO─▶ rejected ─reply OK─▶ accepted | partly_accepted ─execute─▶ executing ─▶ executed
///                 └────────────reply OK──────────────▲
/// (sent, rejected) ─withdraw─▶ withdrawn
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisposalKind {
    Elimination,
    TransferOut,
    /// Records given back to their producer (Code du patrimoine L212-4: restitution at the
    /// end of the archiver's contract), then every copy destroyed.
    Restitution,
    /// A tenant's whole holdings purged once it has its verified export (the end of its
    /// contract): every copy destroyed.
    Closure,
}

impl DisposalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Elimination => "elimination",
            Self::TransferOut => "transfer_out",
            Self::Restitution => "restitution",
            Self::Closure => "closure",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Elimination,
            Self::TransferOut,
            Self::Restitution,
            Self::Closure,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// How it is named in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Elimination => "elimination",
            Self::TransferOut => "transfer out",
            Self::Restitution => "restitution",
            Self::Closure => "tenant closure",
        }
    }
    /// Whether its units go to another archive, which answers (a transfer out, a
    /// restitution), rather than being destroyed under a visa.
    pub fn sends(self) -> bool {
        self != Self::Elimination
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EliminationState {
    Proposed,
    Agreed,
    AgreementRefused,
    VisaGranted,
    VisaPartlyGranted,
    VisaRefused,
    Withdrawn,
    /// Its units are being destroyed, a few hundred at a time.
    Executing,
    Executed,
    /// A transfer out's package is sent; the definitive archives' reply is awaited.
    Sent,
    /// The definitive archives rejected it: nothing is purged, and a new reply may come.
    Rejected,
    /// The definitive archives accepted every unit, or some only.
    Accepted,
    PartlyAccepted,
}

/// What moves an elimination on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EliminationStep {
    /// The producer's answer.
    Agreement {
        agreed: bool,
    },
    /// The control authority's answer; `partial` when it excepts some units.
    Visa {
        granted: bool,
        partial: bool,
    },
    /// Execution begins.
    Execution,
    /// Every unit is destroyed: the execution ends.
    Completion,
    Withdrawal,
    /// The definitive archives' reply to a transfer out; `partial` when it accepts some
    /// units only.
    Reply {
        accepted: bool,
        partial: bool,
    },
}

impl EliminationState {
    pub const ALL: [EliminationState; 13] = [
        Self::Proposed,
        Self::Agreed,
        Self::AgreementRefused,
        Self::VisaGranted,
        Self::VisaPartlyGranted,
        Self::VisaRefused,
        Self::Withdrawn,
        Self::Executing,
        Self::Executed,
        Self::Sent,
        Self::Rejected,
        Self::Accepted,
        Self::PartlyAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Agreed => "agreed",
            Self::AgreementRefused => "agreement_refused",
            Self::VisaGranted => "visa_granted",
            Self::VisaPartlyGranted => "visa_partly_granted",
            Self::VisaRefused => "visa_refused",
            Self::Withdrawn => "withdrawn",
            Self::Executing => "executing",
            Self::Executed => "executed",
            Self::Sent => "sent",
            Self::Rejected => "rejected",
            Self::Accepted => "accepted",
            Self::PartlyAccepted => "partly_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether its units are still its own: nothing else may take them.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Proposed
                | Self::Agreed
                | Self::VisaGranted
                | Self::VisaPartlyGranted
                | Self::Executing
                | Self::Sent
                | Self::Rejected
                | Self::Accepted
                | Self::PartlyAccepted
        )
    }

    /// The state `step` leads to, or why it cannot be taken now.
    pub fn after(self, step: EliminationStep) -> Result<EliminationState, String> {
        use EliminationState as S;
        use EliminationStep as E;
        match (self, step) {
            (S::Proposed, E::Agreement { agreed: true }) => Ok(S::Agreed),
            (S::Proposed, E::Agreement { agreed: false }) => Ok(S::AgreementRefused),
            (S::Agreed, E::Visa { granted: false, .. }) => Ok(S::VisaRefused),
            (S::Agreed, E::Visa { granted: true, partial: false }) => Ok(S::VisaGranted),
            (S::Agreed, E::Visa { granted: true, partial: true }) => Ok(S::VisaPartlyGranted),
            (S::VisaGranted | S::VisaPartlyGranted, E::Execution) => Ok(S::Executing),
            (S::Executing, E::Completion) => Ok(S::Executed),
            (S::Sent | S::Rejected, E::Reply { accepted: false, .. }) => Ok(S::Rejected),
            (S::Sent | S::Rejected, E::Reply { accepted: true, partial: false }) => Ok(S::Accepted),
            (S::Sent | S::Rejected, E::Reply { accepted: true, partial: true }) => {
                Ok(S::PartlyAccepted)
            }
            (S::Accepted | S::PartlyAccepted, E::Execution) => Ok(S::Executing),
            (S::Accepted | S::PartlyAccepted, E::Withdrawal) => Err(
                "the definitive archives accepted it: its purge is executed, not withdrawn".into(),
            ),
            (S::Accepted | S::PartlyAccepted, E::Reply { .. }) => {
                Err("the definitive archives already accepted it".into())
            }
            (S::Sent | S::Rejected, E::Execution) => Err(
                "the definitive archives have not accepted it: nothing is purged before their reply".into(),
            ),
            (S::Executing, E::Withdrawal) => {
                Err("its execution has begun: it is completed, not withdrawn".into())
            }
            (S::Executing, E::Execution) => Err("it is being executed".into()),
            (s, E::Withdrawal) if s.is_open() => Ok(S::Withdrawn),
            (S::Proposed, E::Visa { .. }) => {
                Err("the producer has not agreed yet: the visa comes after its agreement".into())
            }
            (S::Proposed | S::Agreed, E::Execution) => {
                Err("no visa grants it: an elimination is executed only under the control authority's visa (Code du patrimoine R212-14)".into())
            }
            (S::VisaRefused, E::Execution) => {
                Err("the control authority refused its visa: nothing may be destroyed".into())
            }
            (S::Executed, E::Execution) => Err("it is already executed".into()),
            (s, step) => Err(format!(
                "it is {}: {} is not a step it can take",
                s.as_str(),
                match step {
                    E::Agreement { .. } => "the producer's agreement",
                    E::Visa { .. } => "the visa",
                    E::Execution => "execution",
                    E::Completion => "the end of an execution",
                    E::Withdrawal => "withdrawal",
                    E::Reply { .. } => "a reply of the definitive archives",
                }
            )),
        }
    }
}

/// Why a unit of a selection is not proposed, or leaves a proposal before it is executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Excluded {
    /// Its own rules keep it (see [`crate::rules::Exclusion`]).
    Rules { why: Vec<crate::rules::Exclusion> },
    /// A unit below it is kept: destroying it would orphan what stays.
    DescendantKept { descendant: String },
    /// Another open operation has it.
    InOtherOperation { operation: String },
    /// Its rules, or a rule above it, are from before management was kept and not filled.
    RulesIncomplete,
    /// The control authority excepted it from its visa.
    VisaExcepted,
    /// Its effective appraisal rules or final actions changed since the proposal (a rule
    /// change, a referential): the visa was given on what they were.
    RulesChanged,
    /// No unit of the tenant has this identifier.
    Unknown,
    /// The definitive archives' reply does not accept it: it stays.
    NotAccepted,
    /// A restitution goes to one producer; this unit is another's (or no agency's).
    OtherProducer { agency: String },
}

impl Excluded {
    /// A short code for lists.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rules { why } => why.first().map_or("keep", |w| w.code()),
            Self::DescendantKept { .. } => "descendant_kept",
            Self::InOtherOperation { .. } => "in_other_operation",
            Self::RulesIncomplete => "rules_incomplete",
            Self::VisaExcepted => "visa_excepted",
            Self::RulesChanged => "rules_changed",
            Self::Unknown => "unknown",
            Self::NotAccepted => "not_accepted",
            Self::OtherProducer { .. } => "other_producer",
        }
    }
    /// In words, for the bordereau and the reply.
    pub fn describe(&self) -> String {
        use crate::rules::Exclusion as X;
        match self {
            Self::Rules { why } => why
                .iter()
                .map(|w| match w {
                    X::Keep => "its final action is Keep (none given means Keep)".to_owned(),
                    X::FinalActionConflict => {
                        "its inherited final actions disagree (Keep and Destroy)".to_owned()
                    }
                    X::NoAppraisalRule => "it has no appraisal rule".to_owned(),
                    X::UndatedAppraisalRule { rule } => {
                        format!("its appraisal rule {rule} has no end date")
                    }
                    X::NotExpired { rule, end_date } => {
                        format!("its appraisal rule {rule} ends on {end_date}")
                    }
                    X::Hold { rules } => format!("it is on hold ({})", rules.join(", ")),
                    X::Destroy => {
                        "its final action is Destroy: it is eliminated, not transferred".to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            Self::DescendantKept { descendant } => {
                format!("a unit below it ({descendant}) is kept")
            }
            Self::InOtherOperation { operation } => {
                format!("the open operation {operation} has it")
            }
            Self::RulesIncomplete => {
                "its rules from before they were kept are not filled yet".to_owned()
            }
            Self::VisaExcepted => "the control authority excepted it from its visa".to_owned(),
            Self::RulesChanged => {
                "its appraisal rules changed since the proposal the visa was given on".to_owned()
            }
            Self::Unknown => "no such unit in the tenant".to_owned(),
            Self::NotAccepted => "the definitive archives' reply does not accept it".to_owned(),
            Self::OtherProducer { agency } if agency.is_empty() => {
                "it has no originating agency: it is no producer's to take back".to_owned()
            }
            Self::OtherProducer { agency } => {
                format!("it is the records of another producer ({agency})")
            }
        }
    }

    /// In French, for the bordereau a French archivist reads and signs.
    pub fn describe_fr(&self) -> String {
        use crate::rules::Exclusion as X;
        match self {
            Self::Rules { why } => why
                .iter()
                .map(|w| match w {
                    X::Keep => {
                        "son sort final est la conservation (Keep, ou aucun sort final donné)"
                            .to_owned()
                    }
                    X::FinalActionConflict => {
                        "ses sorts finaux hérités se contredisent (conservation et destruction)"
                            .to_owned()
                    }
                    X::NoAppraisalRule => {
                        "elle n\u{2019}a pas de règle de durée d\u{2019}utilité administrative"
                            .to_owned()
                    }
                    X::UndatedAppraisalRule { rule } => {
                        format!("sa règle de DUA {rule} n\u{2019}a pas d\u{2019}échéance")
                    }
                    X::NotExpired { rule, end_date } => {
                        format!("sa règle de DUA {rule} échoit le {end_date}")
                    }
                    X::Hold { rules } => format!("elle est gelée ({})", rules.join(", ")),
                    X::Destroy => {
                        "son sort final est la destruction\u{a0}: elle est éliminée, non versée"
                            .to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\u{a0}; "),
            Self::DescendantKept { descendant } => {
                format!("une unité qu\u{2019}elle contient ({descendant}) est conservée")
            }
            Self::InOtherOperation { operation } => {
                format!("l\u{2019}opération en cours {operation} la détient")
            }
            Self::RulesIncomplete => {
                "ses règles, antérieures à leur conservation, ne sont pas encore reprises"
                    .to_owned()
            }
            Self::VisaExcepted => {
                "l\u{2019}autorité de contrôle l\u{2019}a exceptée de son visa".to_owned()
            }
            Self::RulesChanged => {
                "ses règles de DUA ont changé depuis la proposition visée".to_owned()
            }
            Self::Unknown => "aucune unité de ce tenant ne porte cet identifiant".to_owned(),
            Self::NotAccepted => {
                "la réponse du service d\u{2019}archives définitives ne l\u{2019}accepte pas"
                    .to_owned()
            }
            Self::OtherProducer { agency } if agency.is_empty() => {
                "elle n\u{2019}a pas de service producteur\u{a0}: nul ne peut la reprendre"
                    .to_owned()
            }
            Self::OtherProducer { agency } => {
                format!("elle relève d\u{2019}un autre service producteur ({agency})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EliminationState as S;
    use EliminationStep as E;

    #[test]
    fn every_reason_reads_in_french_too() {
        use crate::rules::Exclusion as X;
        let all = [
            Excluded::Rules {
                why: vec![
                    X::Keep,
                    X::NotExpired {
                        rule: "APP-00001".into(),
                        end_date: "2080-01-01".into(),
                    },
                ],
            },
            Excluded::DescendantKept {
                descendant: "u-2".into(),
            },
            Excluded::InOtherOperation {
                operation: "op-1".into(),
            },
            Excluded::RulesIncomplete,
            Excluded::VisaExcepted,
            Excluded::RulesChanged,
            Excluded::Unknown,
            Excluded::NotAccepted,
            Excluded::OtherProducer {
                agency: "SERV-2".into(),
            },
        ];
        for e in &all {
            assert!(!e.describe_fr().is_empty() && e.describe_fr() != e.describe());
            // Read back from the JSON an elimination keeps.
            let v = serde_json::to_value(e).unwrap();
            assert_eq!(&serde_json::from_value::<Excluded>(v).unwrap(), e);
        }
        assert_eq!(
            all[0].describe_fr(),
            "son sort final est la conservation (Keep, ou aucun sort final donné)\u{a0}; sa règle de DUA APP-00001 échoit le 2080-01-01"
        );
    }

    #[test]
    fn the_path_to_execution() {
        let s = S::Proposed
            .after(E::Agreement { agreed: true })
            .and_then(|s| {
                s.after(E::Visa {
                    granted: true,
                    partial: true,
                })
            })
            .and_then(|s| s.after(E::Execution))
            .unwrap();
        assert_eq!(s, S::Executing);
        assert_eq!(s.after(E::Completion), Ok(S::Executed));
    }

    #[test]
    fn no_execution_without_a_visa_that_grants() {
        for s in [
            S::Proposed,
            S::Agreed,
            S::VisaRefused,
            S::AgreementRefused,
            S::Withdrawn,
            S::Executing,
            S::Executed,
        ] {
            assert!(s.after(E::Execution).is_err(), "{s:?}");
        }
        for s in S::ALL.into_iter().filter(|s| *s != S::Executing) {
            assert!(s.after(E::Completion).is_err(), "{s:?}");
        }
        assert!(
            S::VisaRefused
                .after(E::Execution)
                .unwrap_err()
                .contains("refused")
        );
        assert!(
            S::Executed
                .after(E::Execution)
                .unwrap_err()
                .contains("already")
        );
    }

    #[test]
    fn the_visa_comes_after_the_agreement_and_once() {
        assert!(
            S::Proposed
                .after(E::Visa {
                    granted: true,
                    partial: false
                })
                .is_err()
        );
        assert!(
            S::VisaGranted
                .after(E::Visa {
                    granted: false,
                    partial: false
                })
                .is_err()
        );
        assert!(S::Agreed.after(E::Agreement { agreed: true }).is_err());
    }

    #[test]
    fn open_states_can_be_withdrawn_and_closed_ones_cannot() {
        let past_return = [S::Executing, S::Accepted, S::PartlyAccepted];
        for s in S::ALL.into_iter().filter(|s| !past_return.contains(s)) {
            assert_eq!(s.after(E::Withdrawal).is_ok(), s.is_open(), "{s:?}");
        }
        // Open (their units are their own) but past the point of return: executing, or
        // accepted by the definitive archives, which hold the units now.
        for s in past_return {
            assert!(s.is_open());
            assert!(s.after(E::Withdrawal).is_err(), "{s:?}");
        }
    }

    /// A transfer out: replies until one accepts, then the purge; never the elimination's
    /// steps, and no purge before an acceptance.
    #[test]
    fn a_transfer_out_is_purged_only_after_the_definitive_archives_accept_it() {
        let ko = E::Reply {
            accepted: false,
            partial: false,
        };
        let ok = E::Reply {
            accepted: true,
            partial: false,
        };
        let some = E::Reply {
            accepted: true,
            partial: true,
        };
        assert_eq!(S::Sent.after(ko), Ok(S::Rejected));
        assert_eq!(S::Rejected.after(ko), Ok(S::Rejected));
        assert_eq!(S::Rejected.after(ok), Ok(S::Accepted));
        assert_eq!(S::Sent.after(some), Ok(S::PartlyAccepted));
        assert!(S::Accepted.after(ok).is_err());
        for s in [S::Sent, S::Rejected] {
            assert!(s.after(E::Execution).is_err(), "{s:?}");
            assert!(s.after(E::Agreement { agreed: true }).is_err());
            assert!(
                s.after(E::Visa {
                    granted: true,
                    partial: false
                })
                .is_err()
            );
        }
        assert_eq!(S::Accepted.after(E::Execution), Ok(S::Executing));
        assert_eq!(S::PartlyAccepted.after(E::Execution), Ok(S::Executing));
        // An elimination's states take no reply.
        for s in [S::Proposed, S::Agreed, S::VisaGranted, S::Executed] {
            assert!(s.after(ok).is_err(), "{s:?}");
        }
        for k in [
            DisposalKind::Elimination,
            DisposalKind::TransferOut,
            DisposalKind::Restitution,
            DisposalKind::Closure,
        ] {
            assert_eq!(DisposalKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn states_read_back_as_written() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
