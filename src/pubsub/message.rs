//! What a subscriber receives: [`Message`], [`Event`], the [`Kind`] of a
//! subscription, and the parsing of the frames the server pushes.
//!
//! A pub/sub frame is a RESP3 push (`>3 message ch payload`) or, on a RESP2
//! connection in subscribed state, an array of the same shape; both parse the
//! same way here. Not here: sending (un)subscribe commands (`subscriber`), the
//! subscription set and its recovery (`registry`).
//!
//! Pure: no IO.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Error;
use crate::resp::Frame;

/// The three families of subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `SUBSCRIBE channel`: a classic channel (in a cluster, on any node).
    Channel,
    /// `PSUBSCRIBE pattern`: every classic channel matching a glob pattern.
    Pattern,
    /// `SSUBSCRIBE channel`: a sharded channel, on the node owning its slot.
    Sharded,
}

impl Kind {
    /// The command that subscribes.
    pub(crate) fn subscribe_command(self) -> &'static str {
        match self {
            Kind::Channel => "SUBSCRIBE",
            Kind::Pattern => "PSUBSCRIBE",
            Kind::Sharded => "SSUBSCRIBE",
        }
    }

    /// The command that unsubscribes.
    pub(crate) fn unsubscribe_command(self) -> &'static str {
        match self {
            Kind::Channel => "UNSUBSCRIBE",
            Kind::Pattern => "PUNSUBSCRIBE",
            Kind::Sharded => "SUNSUBSCRIBE",
        }
    }

    /// The first element of the server's confirmation of a subscribe.
    pub(crate) fn subscribe_confirmation(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Sharded => b"ssubscribe",
        }
    }

    /// The first element of the server's confirmation of an unsubscribe.
    pub(crate) fn unsubscribe_confirmation(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Sharded => b"sunsubscribe",
        }
    }

    fn from_unsubscribe_confirmation(name: &[u8]) -> Option<Kind> {
        match name {
            b"unsubscribe" => Some(Kind::Channel),
            b"punsubscribe" => Some(Kind::Pattern),
            b"sunsubscribe" => Some(Kind::Sharded),
            _ => None,
        }
    }
}

/// One subscription: its kind and the channel name or pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subscription {
    /// Channel, pattern or sharded channel.
    pub kind: Kind,
    /// The channel name, or the pattern for [`Kind::Pattern`].
    pub name: Bytes,
}

impl Subscription {
    /// A subscription of `kind` to `name`.
    pub fn new(kind: Kind, name: impl Into<Bytes>) -> Subscription {
        Subscription { kind, name: name.into() }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Channel => "channel",
            Kind::Pattern => "pattern",
            Kind::Sharded => "sharded channel",
        };
        write!(f, "{kind} {}", String::from_utf8_lossy(&self.name))
    }
}

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How it was received: [`Kind::Pattern`] when through a pattern.
    pub kind: Kind,
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched, for [`Kind::Pattern`].
    pub pattern: Option<Bytes>,
    /// The payload, as published.
    pub payload: Bytes,
}

/// What a subscriber yields: messages, and what happened to its subscriptions.
///
/// No gap is ever silent: whenever a message may have been lost, one of
/// [`Event::Interrupted`] (followed by [`Event::Resubscribed`] or
/// [`Event::Refused`]) or [`Event::Lagged`] says so.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A message on a subscribed channel or pattern.
    Message(Message),
    /// These subscriptions stopped receiving (connection lost, server
    /// restarted, client killed, slot moved or failed over). They are being
    /// restored, with backoff; messages published to them from now until
    /// [`Event::Resubscribed`] are lost.
    Interrupted {
        /// The subscriptions that were active and no longer are.
        subscriptions: Vec<Subscription>,
        /// What broke them.
        cause: Arc<Error>,
    },
    /// These subscriptions are active again after an [`Event::Interrupted`]:
    /// messages published in between may have been missed, so resynchronise
    /// now (the subscription is already back, so nothing newer is missed).
    Resubscribed {
        /// The restored subscriptions.
        subscriptions: Vec<Subscription>,
    },
    /// The server refused to restore these subscriptions (e.g. an ACL change):
    /// they are dropped from the subscription set.
    Refused {
        /// The subscriptions dropped.
        subscriptions: Vec<Subscription>,
        /// The server's answer.
        error: Error,
    },
    /// The consumer was too slow: the buffer was full and this many of the
    /// oldest undelivered events were dropped. Resynchronise, as after
    /// [`Event::Resubscribed`].
    Lagged {
        /// How many events were dropped.
        dropped: u64,
    },
}

impl Event {
    /// What this event costs a buffer, for the inbox's byte bound: its
    /// payload and names plus a fixed overhead per event (so that a flood
    /// of empty messages is bounded in bytes too).
    pub(crate) fn weight(&self) -> usize {
        let names = |subs: &[Subscription]| subs.iter().map(|s| s.name.len() + EVENT_OVERHEAD).sum::<usize>();
        EVENT_OVERHEAD
            + match self {
                Event::Message(m) => {
                    m.channel.len() + m.pattern.as_ref().map_or(0, Bytes::len) + m.payload.len()
                }
                Event::Interrupted { subscriptions, .. }
                | Event::Resubscribed { subscriptions }
                | Event::Refused { subscriptions, .. } => names(subscriptions),
                Event::Lagged { .. } => 0,
            }
    }
}

/// Bytes counted per event and per subscription named in one, on top of
/// their payloads: about what the buffer holds for them besides.
const EVENT_OVERHEAD: usize = 64;

/// A pub/sub frame, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// A message for the application.
    Message(Message),
    /// An unsubscribe confirmation that no command waited for: the server
    /// dropped the subscription itself (a sharded channel's slot moved away).
    Unsubscribed(Subscription),
    /// Anything else (subscribe confirmations, `pong`, client-side caching).
    Other,
}

fn bytes(frame: Option<&Frame>) -> Option<Bytes> {
    frame.and_then(Frame::as_bytes).cloned()
}

/// Parses a push frame, or the array a subscribed RESP2 connection sends.
/// Frames of an unexpected shape are [`Push::Other`]: never an error, since
/// servers push other things too.
pub(crate) fn parse_push(frame: &Frame) -> Push {
    let items = match frame.value() {
        Frame::Push(items) | Frame::Array(items) => items,
        _ => return Push::Other,
    };
    let Some(kind) = items.first().and_then(Frame::as_bytes) else { return Push::Other };
    match (&kind[..], items.len()) {
        (b"message" | b"smessage", 3) => {
            let (Some(channel), Some(payload)) = (bytes(items.get(1)), bytes(items.get(2))) else {
                return Push::Other;
            };
            let kind = if kind[..] == b"message"[..] { Kind::Channel } else { Kind::Sharded };
            Push::Message(Message { kind, channel, pattern: None, payload })
        }
        (b"pmessage", 4) => {
            let (Some(pattern), Some(channel), Some(payload)) =
                (bytes(items.get(1)), bytes(items.get(2)), bytes(items.get(3)))
            else {
                return Push::Other;
            };
            Push::Message(Message { kind: Kind::Pattern, channel, pattern: Some(pattern), payload })
        }
        (name, 3) => match (Kind::from_unsubscribe_confirmation(name), bytes(items.get(1))) {
            (Some(kind), Some(name)) => Push::Unsubscribed(Subscription { kind, name }),
            _ => Push::Other,
        },
        _ => Push::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn messages_of_each_kind_in_both_protocols() {
        for wrap in [Frame::Push as fn(Vec<Frame>) -> Frame, Frame::Array] {
            let m = parse_push(&wrap(vec![bulk("message"), bulk("news"), bulk("hello")]));
            assert_eq!(
                m,
                Push::Message(Message {
                    kind: Kind::Channel,
                    channel: Bytes::from_static(b"news"),
                    pattern: None,
                    payload: Bytes::from_static(b"hello"),
                })
            );
            let p = parse_push(&wrap(vec![bulk("pmessage"), bulk("n*"), bulk("news"), bulk("x")]));
            assert_eq!(
                p,
                Push::Message(Message {
                    kind: Kind::Pattern,
                    channel: Bytes::from_static(b"news"),
                    pattern: Some(Bytes::from_static(b"n*")),
                    payload: Bytes::from_static(b"x"),
                })
            );
            let s = parse_push(&wrap(vec![bulk("smessage"), bulk("{a}b"), bulk("")]));
            assert_eq!(
                s,
                Push::Message(Message {
                    kind: Kind::Sharded,
                    channel: Bytes::from_static(b"{a}b"),
                    pattern: None,
                    payload: Bytes::new(),
                })
            );
        }
    }

    #[test]
    fn unsolicited_unsubscribes() {
        let f = Frame::Push(vec![bulk("sunsubscribe"), bulk("ch"), Frame::Integer(0)]);
        assert_eq!(parse_push(&f), Push::Unsubscribed(Subscription::new(Kind::Sharded, "ch")));
        let f = Frame::Array(vec![bulk("punsubscribe"), bulk("p*"), Frame::Integer(2)]);
        assert_eq!(parse_push(&f), Push::Unsubscribed(Subscription::new(Kind::Pattern, "p*")));
        // "Unsubscribed from everything" carries a null name: nothing to act on.
        let f = Frame::Push(vec![bulk("unsubscribe"), Frame::Null, Frame::Integer(0)]);
        assert_eq!(parse_push(&f), Push::Other);
    }

    #[test]
    fn odd_frames_are_other_not_errors() {
        for f in [
            Frame::Integer(1),
            Frame::Push(vec![]),
            Frame::Push(vec![Frame::Integer(3)]),
            Frame::Push(vec![bulk("message"), bulk("only-channel")]),
            Frame::Push(vec![bulk("message"), Frame::Integer(1), bulk("x")]),
            Frame::Push(vec![bulk("pmessage"), bulk("p"), bulk("c")]),
            Frame::Push(vec![bulk("subscribe"), bulk("ch"), Frame::Integer(1)]),
            Frame::Push(vec![bulk("invalidate"), Frame::Array(vec![bulk("k")])]),
            Frame::Array(vec![bulk("pong"), bulk("")]),
        ] {
            assert_eq!(parse_push(&f), Push::Other, "{f:?}");
        }
    }

    #[test]
    fn weight_counts_payload_names_and_a_fixed_overhead() {
        let m = Event::Message(Message {
            kind: Kind::Pattern,
            channel: Bytes::from_static(b"news"),
            pattern: Some(Bytes::from_static(b"n*")),
            payload: Bytes::from(vec![0u8; 1000]),
        });
        assert_eq!(m.weight(), EVENT_OVERHEAD + 4 + 2 + 1000);
        let r = Event::Resubscribed { subscriptions: vec![Subscription::new(Kind::Channel, "abc")] };
        assert_eq!(r.weight(), 2 * EVENT_OVERHEAD + 3);
        assert_eq!(Event::Lagged { dropped: 7 }.weight(), EVENT_OVERHEAD);
    }

    #[test]
    fn commands_and_confirmations_per_kind() {
        assert_eq!(Kind::Sharded.subscribe_command(), "SSUBSCRIBE");
        assert_eq!(Kind::Pattern.unsubscribe_command(), "PUNSUBSCRIBE");
        assert_eq!(Kind::Channel.subscribe_confirmation(), b"subscribe");
        assert_eq!(Kind::Sharded.unsubscribe_confirmation(), b"sunsubscribe");
        for k in [Kind::Channel, Kind::Pattern, Kind::Sharded] {
            assert_eq!(Kind::from_unsubscribe_confirmation(k.unsubscribe_confirmation()), Some(k));
        }
        assert_eq!(Subscription::new(Kind::Sharded, "a").to_string(), "sharded channel a");
    }
}
