//! Metric handles for the per-command path, resolved once per thread,
//! recorder and command name (feature `metrics`).
//!
//! A `metrics::counter!` call with labels builds a key and asks the recorder
//! to find it: a hash and a lookup in the recorder's registry, per call. The
//! hot path instead keeps, per thread, the handles of each command name it
//! has seen, and checks that the recorder is still the one they came from
//! (a recorder installed later, or a local one in a test, gets fresh
//! handles). Command names are upper-cased and interned: at most
//! [`MAX_NAMES`] distinct names become labels, the rest are `OTHER`, so a
//! stream of made-up command names cannot blow up the label set.
//! Not here: the rare events (they call the macros directly, in `events`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram, SharedString};

/// Most distinct command names used as a label; later names are `OTHER`.
pub(super) const MAX_NAMES: usize = 256;
/// Longest command name kept as a label (`GEORADIUSBYMEMBER_RO` is 20).
const MAX_NAME_LEN: usize = 32;
/// Most names one thread caches handles for (past it: resolved each time).
const MAX_CACHED: usize = 512;

/// The handles one finished command touches.
pub(super) struct CommandHandles {
    pub(super) ok: Counter,
    pub(super) duration: Histogram,
}

#[derive(Default)]
struct Cache {
    /// The recorder the handles belong to (its address).
    recorder: usize,
    in_flight: Option<Gauge>,
    commands: HashMap<Box<[u8]>, CommandHandles>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The address of the recorder in force for this thread.
fn recorder_id() -> usize {
    metrics::with_recorder(|r| r as *const dyn metrics::Recorder as *const () as usize)
}

/// Runs `f` on this thread's cache, emptied first if the recorder changed.
fn with_cache<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    let id = recorder_id();
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.recorder != id {
            *cache = Cache { recorder: id, ..Cache::default() };
        }
        f(&mut cache)
    })
}

/// Adds `delta` to `redwire_in_flight`.
pub(super) fn in_flight(delta: f64) {
    with_cache(|c| {
        c.in_flight.get_or_insert_with(|| metrics::gauge!("redwire_in_flight")).increment(delta);
    });
}

/// Runs `f` with the handles of the command called `name`.
pub(super) fn with_command<T>(name: &[u8], f: impl FnOnce(&CommandHandles) -> T) -> T {
    let mut buf = [0u8; MAX_NAME_LEN];
    let upper = match buf.get_mut(..name.len()) {
        Some(out) => {
            for (o, c) in out.iter_mut().zip(name) {
                *o = c.to_ascii_uppercase();
            }
            &*out
        }
        None => b"OTHER".as_slice(),
    };
    with_cache(|c| {
        if let Some(h) = c.commands.get(upper) {
            return f(h);
        }
        let h = resolve(upper);
        let out = f(&h);
        if c.commands.len() < MAX_CACHED {
            c.commands.insert(upper.into(), h);
        }
        out
    })
}

fn resolve(upper: &[u8]) -> CommandHandles {
    CommandHandles {
        ok: metrics::counter!("redwire_commands_total", "outcome" => "ok"),
        duration: metrics::histogram!("redwire_command_duration_seconds", "command" => label(upper)),
    }
}

/// The label for a command name: itself (interned) while fewer than
/// [`MAX_NAMES`] names are known and it looks like a command name, else `OTHER`.
pub(super) fn label(upper: &[u8]) -> SharedString {
    static NAMES: OnceLock<Mutex<HashMap<Box<[u8]>, SharedString>>> = OnceLock::new();
    let plausible = !upper.is_empty()
        && upper.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'|'));
    let Some(text) = std::str::from_utf8(upper).ok().filter(|_| plausible) else {
        return SharedString::const_str("OTHER");
    };
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = names.get(upper) {
        return l.clone();
    }
    if names.len() >= MAX_NAMES {
        return SharedString::const_str("OTHER");
    }
    let l = SharedString::from(text.to_owned());
    names.insert(upper.into(), l.clone());
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_interned_and_bounded() {
        assert_eq!(&*label(b"GET"), "GET");
        assert_eq!(&*label(b"JSON.GET"), "JSON.GET");
        assert_eq!(&*label(b"G\xffT"), "OTHER");
        assert_eq!(&*label(b"SP ACE"), "OTHER");
        assert_eq!(&*label(b""), "OTHER");
        for i in 0..MAX_NAMES + 10 {
            let name = format!("MADEUP{i}");
            let l = label(name.as_bytes());
            assert!(l.as_ref() == name || l.as_ref() == "OTHER");
        }
        assert_eq!(&*label(b"MADEUP999999"), "OTHER");
    }
}
