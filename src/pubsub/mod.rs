//! Pub/sub: subscribe, receive, publish, and keep subscriptions alive.
//!
//! Lives here: [`Subscriber`] (channels, patterns and sharded channels, as a
//! self-restoring subscription set yielding [`Event`]s), [`Publisher`]
//! (`PUBLISH`, `SPUBLISH`), [`Servers`] (standalone, cluster or sentinel, also from a
//! store configuration) and the bounded `Inbox` both use. Layer: above
//! `conn` and `route` (slot hashing, slot maps); below `coord`.
//!
//! ```text
//! Subscriber handle ──commands──▶ task ─┬─ registry (pure: what to do next)
//!                                       └─ links: one Connection per node
//!         ▲                                   │ push sink (reader task)
//!         └──────── Inbox (bounded) ◀──────────┘ messages, no task hop
//! ```
//!
//! - **Protocols.** RESP3: a link is an ordinary multiplexed connection; the
//!   server's pushes go to its push sink. RESP2: a link is a dedicated
//!   connection in pub/sub mode (`Connection::connect_pubsub`, crate-private).
//!   Either way `(un)subscribe` calls complete when the server confirms.
//! - **Cluster.** Classic channels and patterns live on one connection to
//!   any node (the cluster forwards classic messages everywhere). Sharded
//!   channels live on the primary owning their slot, found with `CLUSTER
//!   SHARDS`; they follow `MOVED`, failovers and migrations (the old owner's
//!   own `sunsubscribe`), and are restored on the new owner.
//! - **No silent gap.** Every loss of an active subscription yields
//!   [`Event::Interrupted`], then [`Event::Resubscribed`] once restored (with
//!   capped, jittered backoff); nothing else does. See `registry`.
//! - **Slow consumers.** Each subscriber buffers at most
//!   [`SubscriberOptions::buffer`] events and
//!   [`SubscriberOptions::buffer_bytes`] bytes of them; past either the
//!   oldest are dropped and reported as [`Event::Lagged`]. The connection is
//!   never blocked by a consumer, and memory stays bounded.
//! - **Unsolicited confirmations.** Subscribe confirmations nobody waits for
//!   are dropped on the reader task; unsolicited unsubscribes queue for the
//!   subscriber task up to a fixed count, past which the flooding connection
//!   is closed (and its subscriptions restored) instead of queueing more.
//!
//! Not here: the coordination events and their format (`coord`).

mod inbox;
mod message;
mod publisher;
pub(crate) mod registry;
mod servers;
mod subscriber;

pub(crate) use inbox::{Inbox, Popped};
pub use message::{Event, Kind, Message, Subscription};
pub use publisher::Publisher;
pub use servers::Servers;
pub use subscriber::{Subscriber, SubscriberOptions};
