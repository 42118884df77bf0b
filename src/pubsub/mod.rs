//! Pub/sub: subscribe, receive, publish, and keep subscriptions alive.
//!
//! Placeholder: filled in below.

mod inbox;
mod message;
mod publisher;
mod registry;
mod servers;
mod subscriber;

pub use inbox::{Inbox, Popped};
pub use message::{Event, Kind, Message, Subscription};
pub use publisher::Publisher;
pub use servers::Servers;
pub use subscriber::{Subscriber, SubscriberOptions};
