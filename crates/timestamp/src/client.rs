//! The RFC 3161 client over HTTP (section 3.4): POST `application/timestamp-query`, receive
//! `application/timestamp-reply`. Every request carries a fresh nonce; transport failures are
//! retried with a growing pause; a token that fails verification is never retried into
//! acceptance, it is an error.

use crate::verify::{Expected, TrustStore, VerifiedToken, verify_response};
use crate::{Imprint, TimestampError, random_bytes, request};
use const_oid::ObjectIdentifier;
use std::io::Read;
use std::time::Duration;

/// One external TSA.
pub struct HttpTsa {
    url: String,
    agent: ureq::Agent,
    retries: u32,
    policy: Option<ObjectIdentifier>,
    trust: TrustStore,
}

impl HttpTsa {
    /// `trust` holds the anchors its tokens must chain to; `policy`, when given, is required
    /// in every token.
    pub fn new(
        url: &str,
        trust: TrustStore,
        policy: Option<ObjectIdentifier>,
        timeout: Duration,
        retries: u32,
    ) -> HttpTsa {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        HttpTsa {
            url: url.to_owned(),
            agent,
            retries,
            policy,
            trust,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A verified token over `imprint`.
    pub fn stamp(&self, imprint: &Imprint) -> Result<VerifiedToken, TimestampError> {
        let mut last = TimestampError::Transport("no attempt".into());
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt.min(5)));
            }
            let nonce = random_bytes::<8>()?;
            let req = request(imprint, Some(&nonce), self.policy)?;
            match self.post(&req) {
                Ok(body) => {
                    return verify_response(
                        &body,
                        &Expected {
                            imprint,
                            nonce: Some(&nonce),
                            policy: self.policy,
                        },
                        &self.trust,
                    );
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, attempt, error = %e, "timestamp request failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn post(&self, req: &[u8]) -> Result<Vec<u8>, TimestampError> {
        let transport =
            |e: &dyn std::fmt::Display| TimestampError::Transport(format!("{}: {e}", self.url));
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/timestamp-query")
            .send(req)
            .map_err(|e| transport(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(transport(&format!("HTTP {status}")));
        }
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| transport(&e))?;
        Ok(body)
    }
}
