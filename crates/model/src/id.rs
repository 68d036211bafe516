//! Identifiers, one newtype each, validated on construction.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Characters allowed in every identifier we mint or accept: they end up in file names, URLs
/// and object-store keys, so nothing that needs escaping is allowed.
fn check_token(kind: &'static str, value: &str) -> Result<(), IdError> {
    let err = |reason| IdError {
        kind,
        value: value.chars().take(80).collect(),
        reason,
    };
    if value.is_empty() || value.len() > 64 {
        return Err(err("must be 1 to 64 characters long"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(err("only A-Z, a-z, 0-9, '_' and '-' are allowed"));
    }
    Ok(())
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_token($kind, &value)?;
                Ok(Self(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

token_id!(
    /// A tenant (one local authority; its SIREN in production).
    TenantId,
    "tenant id"
);
token_id!(
    /// An operation (one ingest, one referential import…), unique across the platform.
    OperationId,
    "operation id"
);
token_id!(
    /// The system identifier the archive gives to an archive unit.
    UnitId,
    "archive unit id"
);
token_id!(
    /// The system identifier the archive gives to a binary or physical object (and its group).
    ObjectId,
    "object id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_contract() {
        assert!(TenantId::new("0").is_ok());
        assert!(TenantId::new("213500283").is_ok());
        assert!(TenantId::new("a_b-C9").is_ok());
        assert!(TenantId::new("x".repeat(64)).is_ok());
        assert!(TenantId::new("x".repeat(65)).is_err());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("../etc").is_err());
        assert!(TenantId::new("a b").is_err());
        assert!(TenantId::new("é").is_err());
    }
}
