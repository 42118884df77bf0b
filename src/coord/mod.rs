//! Coordination between the nodes of a cluster over pub/sub.

mod codec;
mod event;

pub use codec::{decode, encode, Batch, DecodeError, FORMAT_VERSION, MAX_BATCH};
pub use event::{CacheKind, DataTypes, Event, NodeId, ObjectId, ObjectType};
