//! Validation reports: every check adds findings, none stops the others, and the report's
//! status is derived from the worst finding.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Warning,
    Error,
}

/// Outcome of an operation, as the ATR and the journal state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Warning,
    Ko,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Ko => "KO",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "OK" => Some(Status::Ok),
            "WARNING" => Some(Status::Warning),
            "KO" => Some(Status::Ko),
            _ => None,
        }
    }
    pub fn is_accepted(self) -> bool {
        self != Status::Ko
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found by one step. `step` and `code` are stable, machine-readable names (close
/// to Vitam's so that archivists recognise them); `message` says what and where for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub step: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn error(&mut self, step: &str, code: &str, message: impl Into<String>) {
        self.push(step, code, Severity::Error, message)
    }
    pub fn warning(&mut self, step: &str, code: &str, message: impl Into<String>) {
        self.push(step, code, Severity::Warning, message)
    }
    fn push(&mut self, step: &str, code: &str, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            step: step.to_owned(),
            code: code.to_owned(),
            severity,
            message: message.into(),
        })
    }
    pub fn extend(&mut self, other: Report) {
        self.findings.extend(other.findings)
    }
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
    pub fn status(&self) -> Status {
        match self.findings.iter().map(|f| f.severity).max() {
            None => Status::Ok,
            Some(Severity::Warning) => Status::Warning,
            Some(Severity::Error) => Status::Ko,
        }
    }
    /// The worst severity found in one step, for the per-step events of an ATR.
    pub fn step_status(&self, step: &str) -> Status {
        match self
            .findings
            .iter()
            .filter(|f| f.step == step)
            .map(|f| f.severity)
            .max()
        {
            None => Status::Ok,
            Some(Severity::Warning) => Status::Warning,
            Some(Severity::Error) => Status::Ko,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_finding() {
        let mut r = Report::new();
        assert_eq!(r.status(), Status::Ok);
        r.warning("A", "W", "w");
        assert_eq!(r.status(), Status::Warning);
        r.error("B", "E", "e");
        r.warning("A", "W2", "w");
        assert_eq!(r.status(), Status::Ko);
        assert_eq!(r.step_status("A"), Status::Warning);
        assert_eq!(r.step_status("B"), Status::Ko);
        assert_eq!(r.step_status("C"), Status::Ok);
        assert_eq!(r.findings().len(), 3);
    }
}
