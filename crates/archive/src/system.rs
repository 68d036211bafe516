//! The real clock and identifier source, used by the binaries; tests use fixed ones.

use crate::ports::{Clock, IdGenerator, IdKind};

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the wall clock.
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// The monotonic clock, for what is measured in elapsed time only (throttles, budgets):
/// never persisted, never compared across processes.
pub fn monotonic_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// `prefix-` + 26 characters of Crockford base32: 48 bits of milliseconds then 80 random
/// bits (the ULID layout), so identifiers sort by creation time and never collide in practice.
pub struct RandomIds;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

impl IdGenerator for RandomIds {
    #[allow(clippy::disallowed_methods)] // Identifiers carry their creation time.
    fn next(&self, kind: IdKind) -> String {
        let millis = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u128;
        let mut random = [0u8; 10];
        getrandom::fill(&mut random).expect("the operating system's random source is available");
        let mut value: u128 = (millis & ((1 << 48) - 1)) << 80;
        for (i, b) in random.iter().enumerate() {
            value |= (*b as u128) << (8 * (9 - i));
        }
        let mut out = String::with_capacity(30);
        out.push_str(kind.prefix());
        out.push('-');
        for i in (0..26).rev() {
            out.push(CROCKFORD[((value >> (5 * i)) & 31) as usize] as char);
        }
        out
    }
}

/// Deterministic identifiers and time for tests.
pub mod fixed {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    pub struct SequentialIds(AtomicU64);

    impl IdGenerator for SequentialIds {
        fn next(&self, kind: IdKind) -> String {
            format!(
                "{}-{:06}",
                kind.prefix(),
                self.0.fetch_add(1, Ordering::Relaxed) + 1
            )
        }
    }

    pub struct FixedClock(pub time::OffsetDateTime);

    impl Clock for FixedClock {
        fn now(&self) -> time::OffsetDateTime {
            self.0
        }
    }

    /// A clock the test moves forward (renewals, expiries).
    pub struct ManualClock(std::sync::Mutex<time::OffsetDateTime>);

    impl ManualClock {
        pub fn new(at: time::OffsetDateTime) -> ManualClock {
            ManualClock(std::sync::Mutex::new(at))
        }
        pub fn set(&self, at: time::OffsetDateTime) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
        pub fn advance(&self, by: time::Duration) {
            let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
            *t += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> time::OffsetDateTime {
            *self.0.lock().unwrap_or_else(|p| p.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_distinct_and_ordered() {
        let a = RandomIds.next(IdKind::Unit);
        let b = RandomIds.next(IdKind::Unit);
        assert_ne!(a, b);
        assert!(carnac_model::UnitId::new(a.clone()).is_ok(), "{a}");
        assert_eq!(a.len(), 29);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let c = RandomIds.next(IdKind::Unit);
        assert!(c > a, "{c} sorts after {a}");
    }
}
