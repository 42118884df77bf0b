//! The in-process bus: pub/sub for the embedded `Default` store, where every
//! "node" lives in the same process (tests, single-node deployments).
//!
//! Lives here: [`subscribe`] and [`publish`] over one process-wide map from
//! channel to subscribers. A subscriber is a bounded [`Inbox`] of
//! [`pubsub::Event`](crate::pubsub::Event)s, exactly what a Redis subscriber
//! yields, so the coordinator reads both the same way. Publishing never
//! blocks: a full inbox drops its oldest entry, as with Redis. Not here:
//! the coordinator (`coord::Coordinator`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;

use crate::pubsub::{Event, Inbox, Kind, Message};

type Subscribers = HashMap<Bytes, Vec<Weak<Inbox<Event>>>>;

fn bus() -> &'static Mutex<Subscribers> {
    static BUS: OnceLock<Mutex<Subscribers>> = OnceLock::new();
    BUS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A subscription to a channel of the bus; it ends when dropped.
#[derive(Debug)]
pub struct BusSubscription {
    inbox: Arc<Inbox<Event>>,
}

impl BusSubscription {
    /// What was published on the channel since subscribing.
    pub fn inbox(&self) -> &Arc<Inbox<Event>> {
        &self.inbox
    }
}

impl Drop for BusSubscription {
    fn drop(&mut self) {
        self.inbox.close();
        let mut map = bus().lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, subs| {
            subs.retain(|w| w.strong_count() > 0);
            !subs.is_empty()
        });
    }
}

/// Subscribes to `channel`, buffering up to `capacity` events.
pub fn subscribe(channel: &Bytes, capacity: usize) -> BusSubscription {
    let inbox = Arc::new(Inbox::new(capacity));
    let mut map = bus().lock().unwrap_or_else(|p| p.into_inner());
    map.entry(channel.clone()).or_default().push(Arc::downgrade(&inbox));
    BusSubscription { inbox }
}

/// Publishes `payload` on `channel`; returns how many subscribers got it.
pub fn publish(channel: &Bytes, payload: Bytes) -> usize {
    let receivers: Vec<Arc<Inbox<Event>>> = {
        let map = bus().lock().unwrap_or_else(|p| p.into_inner());
        map.get(channel).map(|subs| subs.iter().filter_map(Weak::upgrade).collect()).unwrap_or_default()
    };
    for inbox in &receivers {
        inbox.push(Event::Message(Message {
            kind: Kind::Channel,
            channel: channel.clone(),
            pattern: None,
            payload: payload.clone(),
        }));
    }
    receivers.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::Popped;

    #[test]
    fn every_subscriber_of_the_channel_gets_it_until_dropped() {
        let ch = Bytes::from_static(b"bus-test-1");
        let other = Bytes::from_static(b"bus-test-other");
        let a = subscribe(&ch, 8);
        let b = subscribe(&ch, 8);
        let c = subscribe(&other, 8);
        assert_eq!(publish(&ch, Bytes::from_static(b"hi")), 2);
        for s in [&a, &b] {
            match s.inbox().try_pop() {
                Some(Popped::Item(Event::Message(m))) => assert_eq!(&m.payload[..], b"hi"),
                other => panic!("{other:?}"),
            }
        }
        assert!(c.inbox().try_pop().is_none());
        drop(b);
        assert_eq!(publish(&ch, Bytes::from_static(b"again")), 1);
        drop(a);
        assert_eq!(publish(&ch, Bytes::new()), 0);
    }

    #[test]
    fn a_full_subscriber_drops_its_oldest() {
        let ch = Bytes::from_static(b"bus-test-2");
        let s = subscribe(&ch, 2);
        for i in 0..5u8 {
            publish(&ch, Bytes::from(vec![i]));
        }
        assert!(matches!(s.inbox().try_pop(), Some(Popped::Lagged(3))));
        for expected in [3u8, 4] {
            match s.inbox().try_pop() {
                Some(Popped::Item(Event::Message(m))) => assert_eq!(&m.payload[..], &[expected]),
                other => panic!("{other:?}"),
            }
        }
    }
}
