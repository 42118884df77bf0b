//! Pub/sub: subscribe, receive, publish, and keep subscriptions alive.
//!
//! Placeholder: filled in below.

mod inbox;
mod message;
mod registry;

pub use inbox::{Inbox, Popped};
pub use message::{Event, Kind, Message, Subscription};
