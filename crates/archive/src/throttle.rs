//! What keeps one client from costing everyone: locks on logins that keep failing, a bound
//! on the password checks running at once, and a rate past which refused requests are
//! journaled as counts rather than one event each.
//!
//! Everything here is state over time; the time comes in as an argument (a monotonic
//! [`Instant`] that the archive reads in [`crate::system`]), so that each rule is tested
//! without waiting.

use carnac_model::journal::bounded_text;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures of a login, or from an address, that cost nothing.
pub const FREE_FAILURES: u32 = 5;
/// The lock after the first failure beyond the free ones; each further failure doubles it.
pub const FIRST_LOCK: Duration = Duration::from_secs(1);
/// The longest lock.
pub const LONGEST_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without a new one.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(3600);
/// Logins and addresses followed at once, each (beyond, the oldest forgotten first).
pub const TRACKED_KEYS: usize = 65_536;

/// An address as throttled: IPv4 whole, IPv6 by its /64 (what one subscriber holds).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// A new lock, to be journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// `login` or `address`.
    pub kind: &'static str,
    pub key: String,
    pub failures: u32,
    pub duration: Duration,
}

/// Failed password logins, counted per login and per client address: after
/// [`FREE_FAILURES`], each failure locks its login and its address for a time that doubles
/// ([`FIRST_LOCK`] up to [`LONGEST_LOCK`]). While locked, a login or address is refused
/// without its credentials being checked: an attacker cannot guess faster than the locks
/// allow, and what is locked does not depend on whether the login exists. A success clears
/// the login's failures, not the address's: an account's own success must not reset the
/// count of the guesses made from its address against other logins.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    logins: HashMap<String, Failures>,
    addresses: HashMap<String, Failures>,
}

/// The key of a login: what the client sent, cut (a login is at most 128 characters).
fn login_key(login: &str) -> String {
    bounded_text(login, 128)
}

impl LoginThrottle {
    /// How long until `login` from `address` may try again; `None` when it may now.
    pub fn locked(&self, login: &str, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let until = |f: Option<&Failures>| {
            f.and_then(|f| f.locked_until)
                .and_then(|u| u.checked_duration_since(now))
                .filter(|d| !d.is_zero())
        };
        let by_login = until(self.logins.get(&login_key(login)));
        let by_address = address.and_then(|a| until(self.addresses.get(&address_key(a))));
        by_login.max(by_address)
    }

    /// Whether `address` is locked now (whatever the login).
    pub fn address_locked(&self, address: IpAddr, now: Instant) -> bool {
        self.addresses
            .get(&address_key(address))
            .and_then(|f| f.locked_until)
            .is_some_and(|u| u > now)
    }

    /// Counts a failure; returns the locks it starts.
    pub fn failed(&mut self, login: &str, address: Option<IpAddr>, now: Instant) -> Vec<Lock> {
        let mut locks = Vec::new();
        let mut count = |map: &mut HashMap<String, Failures>, kind: &'static str, key: String| {
            if !map.contains_key(&key) && map.len() >= TRACKED_KEYS {
                forget_oldest(map, now);
            }
            let f = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if now.duration_since(f.last) > FAILURE_MEMORY {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            if f.count > FREE_FAILURES {
                let doublings = (f.count - FREE_FAILURES - 1).min(20);
                let duration = FIRST_LOCK.saturating_mul(1 << doublings).min(LONGEST_LOCK);
                f.locked_until = Some(now + duration);
                locks.push(Lock {
                    kind,
                    key,
                    failures: f.count,
                    duration,
                });
            }
        };
        count(&mut self.logins, "login", login_key(login));
        if let Some(a) = address {
            count(&mut self.addresses, "address", address_key(a));
        }
        locks
    }

    /// A success: the login's failures are forgotten.
    pub fn succeeded(&mut self, login: &str) {
        self.logins.remove(&login_key(login));
    }
}

/// Makes room in a full map: entries whose lock is over and whose failures are old go
/// first, then the oldest.
fn forget_oldest(map: &mut HashMap<String, Failures>, now: Instant) {
    map.retain(|_, f| {
        f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.last) <= FAILURE_MEMORY
    });
    if map.len() >= TRACKED_KEYS
        && let Some(oldest) = map
            .iter()
            .filter(|(_, f)| f.locked_until.is_none_or(|u| u <= now))
            .min_by_key(|(_, f)| f.last)
            .map(|(k, _)| k.clone())
            .or_else(|| {
                map.iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
            })
    {
        map.remove(&oldest);
    }
}

/// A token bucket: `capacity` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(capacity: u32, per_second: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity: f64::from(capacity),
            per_second,
            tokens: f64::from(capacity),
            at: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// How many refusals get an event of their own: per client address and from every address
/// together, each a burst then a rate a second. Beyond, refusals are counted in a summary
/// event, at most one a minute per journal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefusalRates {
    pub per_address: (u32, f64),
    pub in_all: (u32, f64),
}

impl Default for RefusalRates {
    /// Ten at once from an address then one every ten seconds; sixty at once in all, then
    /// one a second: under a sustained flood, about 86,400 events a day at most (some 40 MB)
    /// and 1,440 summaries.
    fn default() -> Self {
        RefusalRates {
            per_address: (10, 0.1),
            in_all: (60, 1.0),
        }
    }
}
/// How long refusals are counted before their summary is journaled.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// Addresses named in a summary (the ones that sent most); the rest are counted together.
pub const SUMMARY_ADDRESSES: usize = 20;
/// Addresses whose refusals are counted apart within a summary period.
const COUNTED_ADDRESSES: usize = 4096;
/// Logins (as given) and paths kept as examples in a summary.
const SUMMARY_SAMPLES: usize = 10;

/// What was refused without an event of its own, to be journaled as one summary event.
#[derive(Debug, Clone)]
pub struct RefusalSummary {
    pub since: Instant,
    pub first_at: String,
    pub last_at: String,
    pub count: u64,
    pub decisions: BTreeMap<&'static str, u64>,
    pub addresses: HashMap<String, u64>,
    /// Refusals from addresses beyond those counted apart.
    pub other_addresses: u64,
    /// A few of the logins and paths refused (bounded).
    pub samples: Vec<String>,
}

impl RefusalSummary {
    /// The summary as the journal keeps it: bounded whatever the flood.
    pub fn detail(&self) -> serde_json::Value {
        let mut addresses: Vec<(&String, &u64)> = self.addresses.iter().collect();
        addresses.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let named: Vec<_> = addresses
            .iter()
            .take(SUMMARY_ADDRESSES)
            .map(|(a, n)| serde_json::json!({"address": a, "refusals": n}))
            .collect();
        let others: u64 = addresses
            .iter()
            .skip(SUMMARY_ADDRESSES)
            .map(|(_, n)| **n)
            .sum::<u64>()
            + self.other_addresses;
        serde_json::json!({
            "refusals": self.count,
            "from": self.first_at,
            "to": self.last_at,
            "decisions": self.decisions,
            "addresses": named,
            "other_addresses": others,
            "samples": self.samples,
            "why": "refused requests beyond the rate journaled one event each, counted here",
        })
    }
}

/// Decides which refusals get an event of their own and counts the others, per journal.
#[derive(Debug, Default)]
pub struct RefusalLimiter {
    rates: RefusalRates,
    in_all: Option<TokenBucket>,
    per_address: HashMap<String, TokenBucket>,
    /// By journal (tenant identifier).
    pending: BTreeMap<String, RefusalSummary>,
}

impl RefusalLimiter {
    pub fn new(rates: RefusalRates) -> RefusalLimiter {
        RefusalLimiter {
            rates,
            ..RefusalLimiter::default()
        }
    }

    /// Whether this refusal gets an event of its own; if not, it is counted in the pending
    /// summary of `journal`.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        journal: &str,
        address: Option<IpAddr>,
        decision: &'static str,
        sample: &str,
        now: Instant,
        at: &str,
    ) -> bool {
        let key = address.map_or_else(|| "unknown".to_owned(), address_key);
        if !self.per_address.contains_key(&key) && self.per_address.len() >= COUNTED_ADDRESSES {
            self.per_address.retain(|_, b| !b.full(now));
        }
        let own =
            if self.per_address.len() < COUNTED_ADDRESSES || self.per_address.contains_key(&key) {
                let (capacity, rate) = self.rates.per_address;
                self.per_address
                    .entry(key.clone())
                    .or_insert_with(|| TokenBucket::new(capacity, rate, now))
                    .take(now)
            } else {
                false
            };
        let (capacity, rate) = self.rates.in_all;
        if own
            && self
                .in_all
                .get_or_insert_with(|| TokenBucket::new(capacity, rate, now))
                .take(now)
        {
            return true;
        }
        self.count(journal, address, decision, sample, now, at);
        false
    }

    /// Counts a refusal in the pending summary of `journal`, without an event of its own.
    pub fn count(
        &mut self,
        journal: &str,
        address: Option<IpAddr>,
        decision: &'static str,
        sample: &str,
        now: Instant,
        at: &str,
    ) {
        let key = address.map_or_else(|| "unknown".to_owned(), address_key);
        let s = self
            .pending
            .entry(journal.to_owned())
            .or_insert_with(|| RefusalSummary {
                since: now,
                first_at: at.to_owned(),
                last_at: at.to_owned(),
                count: 0,
                decisions: BTreeMap::new(),
                addresses: HashMap::new(),
                other_addresses: 0,
                samples: Vec::new(),
            });
        s.count += 1;
        s.last_at = at.to_owned();
        *s.decisions.entry(decision).or_default() += 1;
        if s.addresses.len() < COUNTED_ADDRESSES || s.addresses.contains_key(&key) {
            *s.addresses.entry(key).or_default() += 1;
        } else {
            s.other_addresses += 1;
        }
        if s.samples.len() < SUMMARY_SAMPLES {
            let sample = bounded_text(sample, 160);
            if !s.samples.contains(&sample) {
                s.samples.push(sample);
            }
        }
    }

    /// The summaries whose period is over (all of them with `all`), taken out.
    pub fn due(&mut self, now: Instant, all: bool) -> Vec<(String, RefusalSummary)> {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, s)| all || now.duration_since(s.since) >= SUMMARY_EVERY)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|s| (k, s)))
            .collect()
    }
}

/// Password checks (Argon2, tens of milliseconds of a core and 19 MiB each) running at once:
/// beyond, a request waits a little, then is answered "busy" rather than queued without end,
/// so that a flood of Basic logins costs at most these cores and never all of them.
#[derive(Debug)]
pub struct Permits {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

/// A permit, given back when dropped.
pub struct Permit<'a>(&'a Permits);

impl Permits {
    pub fn new(n: usize) -> Permits {
        Permits {
            free: std::sync::Mutex::new(n.max(1)),
            freed: std::sync::Condvar::new(),
        }
    }

    /// A permit, waiting at most `wait` for one.
    pub fn acquire(&self, wait: Duration) -> Option<Permit<'_>> {
        let free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let (mut free, _) = self
            .freed
            .wait_timeout_while(free, wait, |n| *n == 0)
            .unwrap_or_else(|p| p.into_inner());
        if *free == 0 {
            return None;
        }
        *free -= 1;
        Some(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn failures_lock_the_login_and_the_address_for_longer_each_time() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        for i in 0..FREE_FAILURES {
            assert_eq!(t.locked("alice", ip("10.0.0.1"), t0), None, "failure {i}");
            assert!(t.failed("alice", ip("10.0.0.1"), t0).is_empty());
        }
        let locks = t.failed("alice", ip("10.0.0.1"), t0);
        assert_eq!(locks.len(), 2, "{locks:?}");
        assert_eq!(locks[0].duration, FIRST_LOCK);
        assert_eq!(t.locked("alice", None, t0), Some(FIRST_LOCK));
        // The address is locked for any login, existing or not.
        assert_eq!(t.locked("bob", ip("10.0.0.1"), t0), Some(FIRST_LOCK));
        assert_eq!(t.locked("bob", ip("10.0.0.2"), t0), None);
        let later = t0 + FIRST_LOCK;
        assert_eq!(t.locked("alice", ip("10.0.0.1"), later), None);
        let locks = t.failed("alice", ip("10.0.0.2"), later);
        assert_eq!(locks[0].duration, FIRST_LOCK * 2, "doubled for the login");
        // Doubling stops at the longest lock.
        let mut at = later;
        for _ in 0..40 {
            at += LONGEST_LOCK;
            t.failed("alice", None, at);
        }
        assert_eq!(t.locked("alice", None, at), Some(LONGEST_LOCK));
        // A success clears the login, not the address.
        t.succeeded("alice");
        assert_eq!(t.locked("alice", None, at), None);
        assert!(t.locked("x", ip("10.0.0.1"), later).is_none());
        // Failures are forgotten after an hour without one.
        let mut t = LoginThrottle::default();
        for _ in 0..FREE_FAILURES {
            t.failed("carol", None, t0);
        }
        assert!(
            t.failed("carol", None, t0 + FAILURE_MEMORY + Duration::from_secs(1))
                .is_empty()
        );
    }

    #[test]
    fn ipv6_addresses_are_throttled_by_their_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        for i in 0..=FREE_FAILURES {
            t.failed(&format!("u{i}"), ip("2001:db8:1:2::1"), t0);
        }
        assert!(t.locked("v", ip("2001:db8:1:2::ffff"), t0).is_some());
    }

    #[test]
    fn tracked_keys_are_bounded() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        for i in 0..(TRACKED_KEYS + 10) {
            t.failed(&format!("guess-{i}"), None, t0);
        }
        assert!(t.logins.len() <= TRACKED_KEYS);
        // A login cut to 128 bytes: longer ones share its key, and take no more memory.
        t.failed(&"Z".repeat(300_000), None, t0);
        assert!(t.logins.keys().all(|k| k.len() <= 128 + 24));
    }

    #[test]
    fn refusals_beyond_the_rate_are_counted_in_one_summary() {
        let t0 = Instant::now();
        let mut r = RefusalLimiter::default();
        let own = (0..1000)
            .filter(|i| {
                r.admit(
                    "_platform",
                    ip("192.0.2.1"),
                    "unauthenticated",
                    &format!("login-{}", i % 3),
                    t0,
                    "2026-12-03T00:00:00.000Z",
                )
            })
            .count();
        assert_eq!(own, RefusalRates::default().per_address.0 as usize);
        // Another address still gets its own events: one flood does not hide the others.
        assert!(r.admit(
            "_platform",
            ip("192.0.2.2"),
            "unauthenticated",
            "x",
            t0,
            "t"
        ));
        assert!(r.due(t0, false).is_empty(), "not a minute yet");
        let due = r.due(t0 + SUMMARY_EVERY, false);
        assert_eq!(due.len(), 1);
        let (journal, s) = &due[0];
        assert_eq!(journal, "_platform");
        assert_eq!(s.count, 990);
        assert_eq!(s.samples.len(), 3, "{:?}", s.samples);
        let detail = s.detail();
        assert_eq!(detail["refusals"], 990);
        assert_eq!(detail["addresses"][0]["address"], "192.0.2.1");
        // Refilled: one every ten seconds.
        assert!(r.admit(
            "_platform",
            ip("192.0.2.1"),
            "unauthenticated",
            "x",
            t0 + Duration::from_secs(10),
            "t"
        ));
    }

    #[test]
    fn many_addresses_share_one_rate_and_a_bounded_summary() {
        let t0 = Instant::now();
        let mut r = RefusalLimiter::default();
        let mut own = 0;
        for i in 0..20_000u32 {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            if r.admit("_platform", Some(a.into()), "unauthenticated", "x", t0, "t") {
                own += 1;
            }
        }
        assert_eq!(own, RefusalRates::default().in_all.0);
        let (_, s) = r.due(t0, true).pop().unwrap();
        assert_eq!(
            s.count,
            20_000 - u64::from(RefusalRates::default().in_all.0)
        );
        let detail = s.detail();
        assert_eq!(
            detail["addresses"].as_array().unwrap().len(),
            SUMMARY_ADDRESSES
        );
        assert!(serde_json::to_string(&detail).unwrap().len() < 4096);
        assert!(r.per_address.len() <= COUNTED_ADDRESSES);
    }

    #[test]
    fn permits_bound_the_work_at_once() {
        let p = Permits::new(2);
        let a = p.acquire(Duration::ZERO).unwrap();
        let _b = p.acquire(Duration::ZERO).unwrap();
        assert!(p.acquire(Duration::from_millis(20)).is_none(), "busy");
        drop(a);
        assert!(p.acquire(Duration::ZERO).is_some());
    }
}
