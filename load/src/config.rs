//! What one run does: how many tasks for how long, on which keys, with which
//! mix of operations ([`LoadConfig`], [`Mix`]). Pure data.

use std::time::Duration;

/// Relative weights of the operations a task picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// `GET` of a random key.
    pub get: u32,
    /// `SET` of a key the task owns, to its next version.
    pub set: u32,
    /// `MGET` of [`MGET_KEYS`] random keys (needs `Driver::mget`).
    pub mget: u32,
    /// `INCR` of the task's own counter (needs `Driver::incr`).
    pub incr: u32,
}

/// Keys per `MGET`.
pub const MGET_KEYS: usize = 3;

impl Mix {
    /// `GET` and `SET` only, e.g. `Mix::get_set(80, 20)`.
    pub fn get_set(get: u32, set: u32) -> Mix {
        Mix { get, set, mget: 0, incr: 0 }
    }

    pub(crate) fn total(&self) -> u32 {
        self.get.saturating_add(self.set).saturating_add(self.mget).saturating_add(self.incr).max(1)
    }
}

/// How keys are picked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum KeyDist {
    /// Every key equally often.
    #[default]
    Uniform,
    /// Zipf with this exponent: key `i` in proportion to `1 / (i + 1)^s`
    /// (reads over every key; writes over the writing task's own keys).
    Zipf(f64),
}

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent tasks, all sharing one driver (cloned per task).
    pub clients: usize,
    /// Measured time; `Running::stop` may end the run earlier.
    pub duration: Duration,
    /// Distinct keys.
    pub keys: u64,
    /// Key names are `<key_prefix><index>`.
    pub key_prefix: String,
    /// Value size in bytes.
    pub value_size: usize,
    /// How keys are picked.
    pub keys_dist: KeyDist,
    /// Which operations, how often.
    pub mix: Mix,
    /// Reads may be served by replicas, so older versions are allowed (counted as stale).
    pub replicas: bool,
    /// How long tasks may still wait for replies after the deadline before they are aborted.
    pub grace: Duration,
    /// Pause after an error, so a dead server is not hammered in a tight loop.
    pub error_pause: Duration,
    /// Wait between the prefill and the measured run (replicas catching up).
    pub settle: Duration,
}

impl LoadConfig {
    /// `clients` tasks for `duration` on `keys` keys named `<key_prefix><i>`,
    /// 64-byte values, GET:SET 80:20, primaries only, 5 s grace, 1 ms pause
    /// after an error, no settle time.
    pub fn new(clients: usize, duration: Duration, keys: u64, key_prefix: &str) -> LoadConfig {
        LoadConfig {
            clients: clients.max(1),
            duration,
            keys: keys.max(1),
            key_prefix: key_prefix.to_string(),
            value_size: 64,
            keys_dist: KeyDist::Uniform,
            mix: Mix::get_set(80, 20),
            replicas: false,
            grace: Duration::from_secs(5),
            error_pause: Duration::from_millis(1),
            settle: Duration::ZERO,
        }
    }
}
