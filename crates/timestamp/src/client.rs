//! The RFC 3161 client over HTTP or HTTPS (section 3.4): POST `application/timestamp-query`,
//! receive `application/timestamp-reply`. Every request carries a fresh nonce; transport failures are
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
    timeout: Duration,
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
        HttpTsa {
            url: url.to_owned(),
            agent: agent(timeout, ureq::tls::RootCerts::WebPki),
            timeout,
            retries,
            policy,
            trust,
        }
    }

    /// For `https://` URLs: trust only these certification authorities (DER) for the TLS
    /// connection, instead of the Mozilla roots built in. The TLS connection protects nothing
    /// the token's own signature does not; it is there because some TSAs only listen on it.
    pub fn with_tls_roots(mut self, roots: &[Vec<u8>]) -> HttpTsa {
        if !roots.is_empty() {
            let certs = roots
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect();
            self.agent = agent(
                self.timeout,
                ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)),
            );
        }
        self
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

    /// The CRLs published at `url` (a certificate's distribution point), through this TSA's
    /// connection settings. Their signatures are checked where they are used.
    pub fn fetch_crls(&self, url: &str) -> Result<Vec<crate::revocation::Crl>, TimestampError> {
        let transport =
            |e: &dyn std::fmt::Display| TimestampError::Transport(format!("{url}: {e}"));
        let mut resp = self.agent.get(url).call().map_err(|e| transport(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(transport(&format!("HTTP {status}")));
        }
        let mut body = Vec::new();
        // A CRL of a TSA's issuer is small; a large answer is not one.
        resp.body_mut()
            .as_reader()
            .take(16 << 20)
            .read_to_end(&mut body)
            .map_err(|e| transport(&e))?;
        crate::revocation::read_crls(&body)
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

fn agent(timeout: Duration, roots: ureq::tls::RootCerts) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build()
        .into()
}
