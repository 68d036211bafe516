#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use crate::builtin::BuiltinTsa;
use crate::verify::{Expected, TrustStore, verify_response, verify_token};
use crate::{HashAlgorithm, Imprint, TimestampError, request};
use der::{Decode, Encode};
use std::time::Duration;

const DAY: u64 = 86_400;
/// 2026-11-29T00:00:00Z.
const NOW: Duration = Duration::from_secs(1_795_910_400);

fn tsa() -> BuiltinTsa {
    BuiltinTsa::create(NOW, Duration::from_secs(365 * DAY)).unwrap()
}

fn trust(tsa: &BuiltinTsa) -> TrustStore {
    TrustStore::new().with_anchor(tsa.root().clone())
}

fn stamp(tsa: &BuiltinTsa, imprint: &Imprint, nonce: &[u8], at: Duration) -> Vec<u8> {
    tsa.respond(&request(imprint, Some(nonce), None).unwrap(), at)
        .unwrap()
}

#[test]
fn a_builtin_token_verifies_with_everything_it_attests() {
    let tsa = tsa();
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"hello");
    let resp = stamp(
        &tsa,
        &imprint,
        &[0x80, 1, 2, 3],
        NOW + Duration::from_secs(60),
    );
    let v = verify_response(
        &resp,
        &Expected {
            imprint: &imprint,
            nonce: Some(&[0x80, 1, 2, 3]),
            policy: Some(crate::BUILTIN_POLICY),
        },
        &trust(&tsa),
    )
    .unwrap();
    assert_eq!(v.gen_time, NOW + Duration::from_secs(60));
    assert_eq!(v.gen_time_text, "2026-11-29T00:01:00Z");
    assert!(v.is_builtin());
    assert!(v.tsa.contains("not qualified"), "{}", v.tsa);
    assert_eq!(v.signer_not_after, NOW + Duration::from_secs(365 * DAY));
    assert_eq!(v.chain.len(), 2, "TSA certificate and root");
    // The token alone verifies the same way.
    let again = verify_token(
        &v.token,
        &Expected {
            imprint: &imprint,
            nonce: None,
            policy: None,
        },
        &trust(&tsa),
    )
    .unwrap();
    assert_eq!(again.serial, v.serial);
}

#[test]
fn every_check_refuses_what_it_guards() {
    let tsa = tsa();
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"hello");
    let resp = stamp(&tsa, &imprint, b"n1", NOW);
    let check = |imprint: &Imprint, nonce: Option<&[u8]>, policy, trust: &TrustStore| {
        verify_response(
            &resp,
            &Expected {
                imprint,
                nonce,
                policy,
            },
            trust,
        )
    };
    let t = trust(&tsa);
    assert!(check(&imprint, Some(b"n1"), None, &t).is_ok());
    let other = Imprint::of(HashAlgorithm::Sha256, b"other");
    assert!(
        matches!(check(&other, None, None, &t), Err(TimestampError::Invalid(m)) if m.contains("stamps"))
    );
    let sha512 = Imprint::of(HashAlgorithm::Sha512, b"hello");
    assert!(check(&sha512, None, None, &t).is_err());
    assert!(
        matches!(check(&imprint, Some(b"n2"), None, &t), Err(TimestampError::Invalid(m)) if m.contains("nonce"))
    );
    let policy = const_oid::ObjectIdentifier::new_unwrap("1.2.3.4.1");
    assert!(
        matches!(check(&imprint, None, Some(policy), &t), Err(TimestampError::Invalid(m)) if m.contains("policy"))
    );
    // Another authority's root is no anchor for this one.
    let stranger = trust(&self::tsa());
    assert!(matches!(
        check(&imprint, None, None, &stranger),
        Err(TimestampError::Untrusted(_))
    ));
    assert!(matches!(
        check(&imprint, None, None, &TrustStore::new()),
        Err(TimestampError::Untrusted(_))
    ));
}

#[test]
fn a_token_dated_outside_its_certificate_is_untrusted() {
    let tsa = tsa();
    let imprint = Imprint::of(HashAlgorithm::Sha384, b"late");
    // The TSA signs after its certificate ended (a clock error, or a stolen key).
    let resp = stamp(&tsa, &imprint, b"n", NOW + Duration::from_secs(400 * DAY));
    let err = verify_response(
        &resp,
        &Expected {
            imprint: &imprint,
            nonce: None,
            policy: None,
        },
        &trust(&tsa),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TimestampError::Untrusted(m) if m.contains("not at the token's time")),
        "{err}"
    );
}

#[test]
fn a_tampered_token_fails() {
    let tsa = tsa();
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"x");
    let resp = stamp(&tsa, &imprint, b"n", NOW);
    let token = x509_tsp::TimeStampResp::from_der(&resp)
        .unwrap()
        .time_stamp_token
        .unwrap()
        .to_der()
        .unwrap();
    let expected = Expected {
        imprint: &imprint,
        nonce: None,
        policy: None,
    };
    // Flip each byte of the token in turn: none may pass.
    let mut accepted = Vec::new();
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x01;
        if verify_token(&t, &expected, &trust(&tsa)).is_ok() {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "bytes {accepted:?} of {} changed unnoticed",
        token.len()
    );
}

#[test]
fn refused_requests_get_a_rejection_status() {
    let tsa = tsa();
    let sha1 = Imprint::of(HashAlgorithm::Sha1, b"old");
    let resp = tsa
        .respond(&request(&sha1, None, None).unwrap(), NOW)
        .unwrap();
    let err = verify_response(
        &resp,
        &Expected {
            imprint: &sha1,
            nonce: None,
            policy: None,
        },
        &trust(&tsa),
    )
    .unwrap_err();
    assert!(matches!(err, TimestampError::Refused(_)), "{err}");
    let garbage = tsa.respond(b"not a request", NOW).unwrap();
    assert!(matches!(
        verify_response(
            &garbage,
            &Expected {
                imprint: &sha1,
                nonce: None,
                policy: None
            },
            &trust(&tsa)
        ),
        Err(TimestampError::Refused(_))
    ));
}

#[test]
fn files_round_trip_and_renewal_changes_the_key() {
    let mut tsa = tsa();
    let files = tsa.to_files().unwrap();
    assert!(files.tsa_key.contains("PRIVATE KEY"));
    let back = BuiltinTsa::from_files(&files).unwrap();
    assert_eq!(back.certificate(), tsa.certificate());
    let old = tsa.certificate().clone();
    tsa.renew_certificate(
        NOW + Duration::from_secs(300 * DAY),
        Duration::from_secs(365 * DAY),
    )
    .unwrap();
    assert_ne!(tsa.certificate(), &old);
    assert_eq!(tsa.not_after(), NOW + Duration::from_secs(665 * DAY));
    // A token of the old certificate still verifies at its own time.
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"y");
    let resp = stamp(&back, &imprint, b"n", NOW);
    assert!(
        verify_response(
            &resp,
            &Expected {
                imprint: &imprint,
                nonce: None,
                policy: None
            },
            &trust(&tsa)
        )
        .is_ok()
    );
    // A key that is not the certificate's is refused.
    let mut mixed = files.clone();
    mixed.tsa_key = files.root_key.clone();
    assert!(BuiltinTsa::from_files(&mixed).is_err());
}

#[test]
fn a_token_in_the_certificates_first_second_verifies() {
    let start = NOW + Duration::from_millis(900);
    let tsa = BuiltinTsa::create(start, Duration::from_secs(DAY)).unwrap();
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"first second");
    let resp = stamp(&tsa, &imprint, b"n", start + Duration::from_millis(50));
    assert!(
        verify_response(
            &resp,
            &Expected {
                imprint: &imprint,
                nonce: None,
                policy: None
            },
            &trust(&tsa)
        )
        .is_ok()
    );
}

#[test]
fn the_builtin_policy_is_the_oid_its_text_says() {
    // const-oid's arcs are 32 bits: a larger arc would wrap without a word in release builds.
    assert_eq!(
        crate::BUILTIN_POLICY.to_string(),
        crate::BUILTIN_POLICY_TEXT
    );
}

mod revocation {
    use super::*;
    use crate::revocation::{Crl, check_chain, read_crls};

    const HOUR: Duration = Duration::from_secs(3600);

    /// A token made an hour after NOW, and its certification path.
    fn token(tsa: &BuiltinTsa) -> Vec<Vec<u8>> {
        let imprint = Imprint::of(HashAlgorithm::Sha256, b"revocation");
        let resp = stamp(tsa, &imprint, &[1, 2, 3], NOW + HOUR);
        let v = verify_response(
            &resp,
            &Expected {
                imprint: &imprint,
                nonce: Some(&[1, 2, 3]),
                policy: None,
            },
            &trust(tsa),
        )
        .unwrap();
        v.chain
    }

    fn crl(tsa: &BuiltinTsa, issued: Duration, revoked: &[(Duration, Option<u8>)]) -> Crl {
        let serial = tsa.certificate().tbs_certificate.serial_number.clone();
        let entries: Vec<_> = revoked
            .iter()
            .map(|(at, reason)| (serial.clone(), *at, *reason))
            .collect();
        Crl::from_der(
            &tsa.crl(issued, Duration::from_secs(7 * DAY), &entries)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_fresh_crl_of_the_root_vouches_for_the_tsa_certificate() {
        let tsa = tsa();
        let chain = token(&tsa);
        let notes = check_chain(
            &chain,
            &[crl(&tsa, NOW + 2 * HOUR, &[])],
            NOW + HOUR,
            NOW + 3 * HOUR,
        )
        .unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("not revoked"), "{notes:?}");
        // PEM round trip, several CRLs in one file.
        let a = crl(&tsa, NOW + 2 * HOUR, &[]);
        let pem = format!("{}{}", a.to_pem().unwrap(), a.to_pem().unwrap());
        let read = read_crls(pem.as_bytes()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].der, a.der);
        assert_eq!(read_crls(&a.der).unwrap()[0].der, a.der);
    }

    #[test]
    fn a_revocation_before_the_timestamp_is_fatal_whatever_the_reason() {
        let tsa = tsa();
        let chain = token(&tsa);
        let list = crl(&tsa, NOW + 2 * HOUR, &[(NOW + HOUR / 2, Some(4))]);
        let problems = check_chain(&chain, &[list], NOW + HOUR, NOW + 3 * HOUR).unwrap_err();
        assert!(problems[0].contains("superseded"), "{problems:?}");
        assert!(problems[0].contains("before the timestamp"), "{problems:?}");
    }

    #[test]
    fn a_later_compromise_is_fatal_only_before_the_renewal() {
        let tsa = tsa();
        let chain = token(&tsa);
        let compromised = |reason| crl(&tsa, NOW + 10 * HOUR, &[(NOW + 5 * HOUR, reason)]);
        // Renewed at NOW + 6h, after the compromise: the token proves nothing.
        let problems =
            check_chain(&chain, &[compromised(Some(1))], NOW + HOUR, NOW + 6 * HOUR).unwrap_err();
        assert!(problems[0].contains("keyCompromise"), "{problems:?}");
        assert!(
            problems[0].contains("before the timestamp was renewed"),
            "{problems:?}"
        );
        // No reason counts as a compromise.
        assert!(check_chain(&chain, &[compromised(None)], NOW + HOUR, NOW + 6 * HOUR).is_err());
        // Renewed at NOW + 4h, before it: the renewal took over in time.
        check_chain(&chain, &[compromised(Some(1))], NOW + HOUR, NOW + 4 * HOUR).unwrap();
        // Superseded after the timestamp: earlier tokens stay good.
        check_chain(&chain, &[compromised(Some(4))], NOW + HOUR, NOW + 6 * HOUR).unwrap();
    }

    #[test]
    fn missing_stale_or_forged_revocation_data_is_named() {
        let tsa = tsa();
        let chain = token(&tsa);
        let none = check_chain(&chain, &[], NOW + HOUR, NOW + HOUR).unwrap_err();
        assert!(none[0].contains("no revocation data for"), "{none:?}");
        let stale =
            check_chain(&chain, &[crl(&tsa, NOW, &[])], NOW + HOUR, NOW + HOUR).unwrap_err();
        assert!(stale[0].contains("predates the timestamp"), "{stale:?}");
        // Another built-in TSA's root has the same name but not the same key.
        let other = super::tsa();
        let forged = check_chain(
            &chain,
            &[crl(&other, NOW + 2 * HOUR, &[])],
            NOW + HOUR,
            NOW + HOUR,
        )
        .unwrap_err();
        assert!(
            forged.iter().any(|p| p.contains("not signed by its key")),
            "{forged:?}"
        );
        assert!(
            forged.iter().any(|p| p.contains("no revocation data")),
            "{forged:?}"
        );
    }
}
