//! The time an ingest may take, and the readers that stop when it is over.

use std::io::Read;

/// The time an ingest may take: `base`, plus a second for every `bytes_per_second` bytes of
/// the transfer (as received, or once expanded if more). Past it, the ingest stops where it
/// is (the manifest's reader every few thousand XML events, the copy of the content every
/// buffer, the other steps between them) and the transfer is rejected with every reason
/// found so far: one transfer cannot hold an ingest worker longer than its size warrants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBudget {
    pub base: std::time::Duration,
    pub bytes_per_second: u64,
}

impl Default for TimeBudget {
    /// Ten minutes, and a second per 10 MB: a 1 TB transfer may take 28 hours, ten times
    /// what it takes here (91 MB/s).
    fn default() -> Self {
        TimeBudget {
            base: std::time::Duration::from_secs(600),
            bytes_per_second: 10_000_000,
        }
    }
}

/// An ingest's deadline under its [`TimeBudget`].
pub(crate) struct Deadline {
    started: std::time::Instant,
    budget: TimeBudget,
    bytes: std::cell::Cell<u64>,
}

impl Deadline {
    pub(crate) fn new(budget: TimeBudget, bytes: u64) -> Deadline {
        Deadline {
            started: crate::system::monotonic_now(),
            budget,
            bytes: std::cell::Cell::new(bytes),
        }
    }

    /// The bytes the budget is counted on so far.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// The transfer holds this many bytes (expanded): the budget grows with them.
    pub(super) fn grow_to(&self, bytes: u64) {
        self.bytes.set(self.bytes.get().max(bytes));
    }

    fn allowed(&self) -> std::time::Duration {
        let per_byte = self.bytes.get() / self.budget.bytes_per_second.max(1);
        self.budget.base + std::time::Duration::from_secs(per_byte)
    }

    /// Why the ingest must stop now, if it must.
    pub(crate) fn over(&self) -> Option<String> {
        let allowed = self.allowed();
        (crate::system::monotonic_now().duration_since(self.started) > allowed).then(|| {
            format!(
                "the ingest took longer than the {} s its {} bytes allow; it was stopped (a manifest or content that costs this much is refused)",
                allowed.as_secs(),
                self.bytes.get()
            )
        })
    }
}

/// A reader that fails once the ingest's time is over.
pub(super) struct Timed<'a, R> {
    pub(super) inner: R,
    pub(super) deadline: &'a Deadline,
}

impl<R: Read> Read for Timed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = self.deadline.over() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
        }
        self.inner.read(buf)
    }
}
