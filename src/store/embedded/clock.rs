//! The embedded store's time source: the system clocks, or in unit tests a
//! clock moved by hand so expiry tests need not sleep.
//!
//! Two readings: a monotonic [`Instant`] for expiry deadlines, and Unix seconds
//! for rate-limit windows.

#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(test)]
use std::sync::Arc;
#[cfg(test)]
use std::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The time source: the system clocks, or in unit tests a clock moved by hand.
#[derive(Clone)]
pub(super) enum Clock {
    System,
    #[cfg(test)]
    Manual(Arc<ManualClock>),
}

impl Clock {
    pub(super) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(test)]
            Clock::Manual(m) => m.now(),
        }
    }

    /// Seconds since the Unix epoch: rate-limit windows are wall-clock aligned
    /// so that every process sharing a server agrees on them.
    pub(super) fn unix_secs(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            #[cfg(test)]
            Clock::Manual(m) => m.unix_secs(),
        }
    }
}

#[cfg(test)]
pub(super) struct ManualClock {
    pub(super) start: Instant,
    pub(super) unix_start: u64,
    pub(super) offset_ms: AtomicU64,
}

#[cfg(test)]
impl ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }

    fn unix_secs(&self) -> u64 {
        self.unix_start + self.offset_ms.load(Ordering::SeqCst) / 1000
    }

    pub(super) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}
