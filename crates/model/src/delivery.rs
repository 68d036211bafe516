//! A delivery's life (communication, Code du patrimoine L213-1 to L213-3): units whose access
//! delays have run out, or a producer's own, are given at once; a request for units still
//! restricted may ask for a derogation, which the control authority authorises or refuses
//! (L213-3: "après accord de l'autorité dont émanent les documents", with the Archives'
//! advice). A package delivered is kept for a time, then removed.
//!
//! ```text
//! (request) ──communicable──▶ delivered ─expiry─▶ removed
//!     │ derogation asked
//!     ▼
//! awaiting_authorization ─granted─▶ delivered
//!     └─refused─▶ refused
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Units still restricted wait for the control authority's authorisation.
    AwaitingAuthorization,
    /// The control authority refused the derogation: nothing was delivered.
    Refused,
    /// The package is ready to be downloaded, until it expires.
    Delivered,
    /// The package was delivered, then removed when its time was up.
    Removed,
}

/// What moves a delivery on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStep {
    /// The control authority's answer to a derogation.
    Authorization { granted: bool },
    /// The package's time is up.
    Removal,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        Self::AwaitingAuthorization,
        Self::Refused,
        Self::Delivered,
        Self::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingAuthorization => "awaiting_authorization",
            Self::Refused => "refused",
            Self::Delivered => "delivered",
            Self::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state `step` leads to, or why it cannot be taken now.
    pub fn after(self, step: DeliveryStep) -> Result<DeliveryState, String> {
        use DeliveryState as S;
        use DeliveryStep as E;
        match (self, step) {
            (S::AwaitingAuthorization, E::Authorization { granted: true }) => Ok(S::Delivered),
            (S::AwaitingAuthorization, E::Authorization { granted: false }) => Ok(S::Refused),
            (S::Delivered, E::Removal) => Ok(S::Removed),
            (S::AwaitingAuthorization, E::Removal) => {
                Err("it waits for an authorisation: it has no package to remove".into())
            }
            (S::Delivered | S::Removed, E::Authorization { .. }) => {
                Err("it needs no authorisation, or already has one: it is delivered".into())
            }
            (S::Refused, E::Authorization { .. }) => {
                Err("the control authority already refused it: a new request asks again".into())
            }
            (S::Refused, E::Removal) => Err("it was refused: nothing was delivered".into()),
            (S::Removed, E::Removal) => Err("its package is already removed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState as S;
    use DeliveryStep as E;

    #[test]
    fn every_state_and_step() {
        let steps = [
            E::Authorization { granted: true },
            E::Authorization { granted: false },
            E::Removal,
        ];
        let allowed = [
            (S::AwaitingAuthorization, steps[0], S::Delivered),
            (S::AwaitingAuthorization, steps[1], S::Refused),
            (S::Delivered, steps[2], S::Removed),
        ];
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            for e in steps {
                let expected = allowed
                    .iter()
                    .find(|(a, b, _)| *a == s && *b == e)
                    .map(|(_, _, to)| *to);
                match (s.after(e), expected) {
                    (Ok(to), Some(x)) => assert_eq!(to, x),
                    (Err(why), None) => assert!(!why.is_empty()),
                    (got, want) => panic!("{s:?} {e:?}: {got:?}, expected {want:?}"),
                }
            }
        }
        assert_eq!(S::parse("delivering"), None);
    }
}
