//! Internals exposed for redwire's own fuzz targets and integration tests. **No semver
//! guarantee**: anything here may change or disappear in any release, patch releases
//! included. Hidden from the documentation; do not use it from applications.
//!
//! Lives here: re-exports of pure internals (the driver's write ledger, the pub/sub
//! subscription state machine, command planning and the retry decision of the cluster
//! router, the coordination wire formats, the sharded store's key placement) and thin
//! functions over the [`SlotMap`] operations the router keeps to itself. Not here:
//! anything an application needs; that is the public API at the crate root and in its
//! public modules.

use crate::error::{Error, NodeAddr};
use crate::resp::Frame;
use crate::route::SlotMap;

/// The driver's accounting of which bytes of a batch reached the socket
/// (`conn::ledger`); the `driver_write` fuzz target.
pub mod ledger {
    pub use crate::conn::ledger::{fate, Fate, WriteLedger};
}

/// The pub/sub subscription state machine (`pubsub::registry`); the `registry` fuzz target.
pub mod registry {
    pub use crate::pubsub::registry::{Action, CallId, LinkId, Registry, Settings};
}

/// The cluster router's pure decisions; the `route_ops` and `topology` fuzz targets.
pub mod route {
    pub use crate::cmd::table::{command_info, is_retry_safe, CommandInfo, FanOut, SplitKind};
    pub use crate::route::redirect::{classify, RetryAction};
    pub use crate::route::split::Part;
    pub use crate::route::{plan, Plan, Target};

    use super::{Error, Frame, NodeAddr, SlotMap};

    /// [`SlotMap`] from `(shard, [(first slot, last slot)])` entries.
    ///
    /// # Errors
    /// As the router's own constructor: overlapping ranges, slots out of range.
    pub fn slot_map_from_ranges(
        shards: Vec<(crate::route::Shard, Vec<(u16, u16)>)>,
    ) -> Result<SlotMap, Error> {
        SlotMap::from_ranges(shards)
    }

    /// [`SlotMap`] from a `CLUSTER SLOTS` reply, as asked of `asked_host`.
    ///
    /// # Errors
    /// A reply that is not a valid `CLUSTER SLOTS` answer.
    pub fn slot_map_from_slots(reply: &Frame, asked_host: &str) -> Result<SlotMap, Error> {
        SlotMap::from_slots(reply, asked_host)
    }

    /// [`SlotMap`] from a `CLUSTER SHARDS` reply, as asked of `asked_host`.
    ///
    /// # Errors
    /// A reply that is not a valid `CLUSTER SHARDS` answer.
    pub fn slot_map_from_shards(reply: &Frame, asked_host: &str, tls: bool) -> Result<SlotMap, Error> {
        SlotMap::from_shards(reply, asked_host, tls)
    }

    /// Applies a `MOVED slot node` to `map`; true when the map changed.
    pub fn apply_moved(map: &mut SlotMap, slot: u16, node: NodeAddr) -> bool {
        map.apply_moved(slot, node)
    }

    /// The view the router installs among several nodes' views.
    pub fn pick_consensus(views: Vec<SlotMap>) -> Option<SlotMap> {
        SlotMap::pick_consensus(views)
    }
}

/// The coordination wire formats (redwire's own and Stalwart's); the `coord` and
/// `coord_stalwart` fuzz targets and the tests that inject crafted messages.
pub mod coord {
    pub use crate::coord::codec::{decode, encode, Batch};
    pub use crate::coord::stalwart::{decode_stalwart, encode_stalwart};
}

/// Which shard of a sharded store a key lives on; tests check it against Stalwart's choice.
pub mod store {
    pub use crate::store::sharded::shard_of;
}
