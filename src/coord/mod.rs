//! Coordination between the nodes of a cluster: typed events over pub/sub.
//!
//! Lives here: the [`Event`]s a mail server broadcasts (state changes that
//! drive IMAP IDLE and push, email pushes, calendar alerts, push-server
//! updates, registry and cache changes, MTA queue status and refresh, opaque
//! application events), their wire format (`encode`, `decode`: a format
//! version byte, the sender's [`NodeId`], length-prefixed events with a kind
//! tag), and the [`Coordinator`], which batches this node's events (up to
//! [`MAX_BATCH`] per message, sent at once when idle) and delivers the other
//! nodes' events. Layer: above `pubsub`; the transport comes from the store
//! configuration, with an in-process bus for the embedded `Default` store.
//!
//! Delivery is at most once, like the pub/sub it rides on: whenever events
//! may have been missed (a reconnect, a slow reader) the coordinator says so
//! with [`Delivery::Missed`], so the application can reload what they drive.

mod bus;
pub(crate) mod codec;
mod coordinator;
mod event;
pub(crate) mod stalwart;

pub use codec::{DecodeError, FORMAT_VERSION, MAX_BATCH};
pub use coordinator::{Coordinator, CoordinatorOptions, CoordinatorStats, Delivery, Missed, DEFAULT_CHANNEL};
pub use event::{CacheKind, DataTypes, Event, NodeId, ObjectId, ObjectType};
pub use stalwart::{EncodeError, STALWART_CHANNEL, STALWART_MAX_EVENTS};
