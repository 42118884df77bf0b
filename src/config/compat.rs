//! [`Compat`]: which existing deployment's wire behaviour a store and its
//! coordinator follow, the `"compat"` field of the configuration.
//!
//! Lives here: the enum and its JSON spelling. Not here: what each choice
//! changes (`store`, `coord`), parsing the rest of the document (`parse`).
//!
//! Pure: no IO.

use std::fmt;

/// How a store lays out its keys and how its coordinator talks, so that
/// redwire nodes can share data and a channel with other programs.
///
/// JSON: `"compat": "redwire"` (the default) or `"compat": "stalwart-0.16"`,
/// on the top-level store object (for `Sharded`, on the `Sharded` object; it
/// applies to every shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compat {
    /// redwire's own behaviour: FNV-1a shards, counters keep their first
    /// expiry, `<key>:<window>` rate counters, owner-token locks, the
    /// versioned coordination format on `redwire.coord`.
    #[default]
    Redwire,
    /// Side by side with Stalwart 0.16 nodes (its redis-rs backend): xxh3
    /// shards, `counter_incr` sets the expiry on every call (`MULTI`,
    /// `INCRBY`, `EXPIRE`, `EXEC`), and the coordinator speaks Stalwart's
    /// format on `stwt.agora`. The key layouts Stalwart uses for rate limits
    /// and locks are available on every store whatever this says
    /// (`Store::is_rate_allowed_prefixed`, `Store::try_lock_plain`).
    Stalwart016,
}

impl Compat {
    /// Every choice, for messages and tests.
    pub const ALL: [Compat; 2] = [Compat::Redwire, Compat::Stalwart016];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compat::Redwire => "redwire",
            Compat::Stalwart016 => "stalwart-0.16",
        }
    }

    /// The choice spelled `text` (ASCII case ignored), if any.
    pub fn from_name(text: &str) -> Option<Compat> {
        Compat::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// True for [`Compat::Stalwart016`].
    pub fn is_stalwart(self) -> bool {
        self == Compat::Stalwart016
    }
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Compat::ALL {
            assert_eq!(Compat::from_name(c.as_str()), Some(c));
        }
        assert_eq!(Compat::from_name(" Stalwart-0.16 "), Some(Compat::Stalwart016));
        assert_eq!(Compat::from_name("stalwart"), None);
        assert_eq!(Compat::default(), Compat::Redwire);
    }
}
