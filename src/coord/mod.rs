//! Coordination between the nodes of a cluster over pub/sub.
//!
//! Placeholder: filled in below.

mod bus;
mod codec;
mod coordinator;
mod event;

pub use bus::{publish as bus_publish, subscribe as bus_subscribe, BusSubscription};
pub use codec::{decode, encode, Batch, DecodeError, FORMAT_VERSION, MAX_BATCH};
pub use coordinator::{Coordinator, CoordinatorOptions, CoordinatorStats, Delivery, Missed, DEFAULT_CHANNEL};
pub use event::{CacheKind, DataTypes, Event, NodeId, ObjectId, ObjectType};
