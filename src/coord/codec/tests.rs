//! The wire format: every event round-trips, old nodes skip what they do not
//! know, and garbage gives a clear error, never a panic.

use super::*;
use proptest::prelude::*;

fn every_event() -> Vec<Event> {
    vec![
        Event::StateChange { account_id: 7, change_id: 1234, types: DataTypes(0b1011) },
        Event::StateChange { account_id: u32::MAX, change_id: u64::MAX, types: DataTypes(u64::MAX) },
        Event::EmailPush { account_id: 1, email_id: 99, change_id: 100 },
        Event::CalendarAlert {
            account_id: 3,
            event_id: 4,
            recurrence_id: Some(-1_700_000_000),
            uid: "2f1e@example.com".into(),
            alert_id: "VALARM-1".into(),
        },
        Event::CalendarAlert {
            account_id: 0,
            event_id: 0,
            recurrence_id: None,
            uid: String::new(),
            alert_id: "é✓".into(),
        },
        Event::CalendarAlert {
            account_id: 1,
            event_id: 2,
            recurrence_id: Some(i64::MIN),
            uid: "u".into(),
            alert_id: "a".into(),
        },
        Event::PushServerUpdate { account_id: 42 },
        Event::RegistryInsert(ObjectId {
            object_type: ObjectType::BLOCKED_IP,
            id: Bytes::from_static(b"192.0.2.1"),
        }),
        Event::RegistryDelete(ObjectId {
            object_type: ObjectType::ACME_CERTIFICATE,
            id: Bytes::from_static(b"mail.example.com"),
        }),
        Event::RegistryDelete(ObjectId { object_type: ObjectType(u16::MAX), id: Bytes::new() }),
        Event::RegistryReload(ObjectType::SETTINGS),
        Event::CacheInvalidate { kind: CacheKind::ACCESS_TOKEN, ids: vec![1, 2, u64::MAX] },
        Event::CacheInvalidate { kind: CacheKind::DAV, ids: vec![] },
        Event::CacheInvalidateAll(CacheKind::ACCOUNT),
        Event::CacheInvalidateNegative(CacheKind::DIRECTORY),
        Event::QueueStatus { paused: true },
        Event::QueueStatus { paused: false },
        Event::QueueRefresh,
        Event::Application { kind: 0xdead, payload: Bytes::from_static(b"\x00\xffopaque") },
    ]
}

#[test]
fn every_event_round_trips_alone_and_together() {
    let sender = NodeId(0x0123_4567_89ab_cdef);
    for event in every_event() {
        let batch = decode(&encode(sender, std::slice::from_ref(&event))).unwrap();
        assert_eq!(batch, Batch { sender, events: vec![event.clone()], unknown: 0 }, "{event:?}");
    }
    let all = every_event();
    let batch = decode(&encode(sender, &all)).unwrap();
    assert_eq!(batch.events, all);
    assert_eq!(batch.sender, sender);
}

#[test]
fn the_format_is_pinned() {
    // version 1, sender 0x..01, then kind 2 (EmailPush), length 4, body 5, 0x81 0x01 (129), 3.
    let bytes = encode(NodeId(1), &[Event::EmailPush { account_id: 5, email_id: 129, change_id: 3 }]);
    assert_eq!(&bytes[..], &[1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 5, 0x81, 0x01, 3]);
    // An empty batch is a header only.
    assert_eq!(&encode(NodeId(2), &[])[..], &[1, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(decode(&encode(NodeId(2), &[])).unwrap().events, vec![]);
}

#[test]
fn a_full_batch_round_trips() {
    let events: Vec<Event> = (0..MAX_BATCH as u32)
        .map(|i| Event::StateChange {
            account_id: i,
            change_id: u64::from(i) * 1000,
            types: DataTypes(1 << (i % 64)),
        })
        .collect();
    let batch = decode(&encode(NodeId(9), &events)).unwrap();
    assert_eq!(batch.events, events);
}

/// A message with hand-made event frames: `(kind, body)`.
fn raw(frames: &[(u8, &[u8])]) -> Bytes {
    let mut out = vec![FORMAT_VERSION, 0, 0, 0, 0, 0, 0, 0, 5];
    for (kind, body) in frames {
        out.push(*kind);
        out.push(u8::try_from(body.len()).unwrap());
        out.extend_from_slice(body);
    }
    Bytes::from(out)
}

#[test]
fn unknown_kinds_are_skipped_and_the_rest_of_the_batch_kept() {
    let msg = raw(&[
        (tag::PUSH_SERVER_UPDATE, &[1]),
        (200, b"from the future"),
        (tag::QUEUE_REFRESH, &[]),
        (0, &[]),
    ]);
    let batch = decode(&msg).unwrap();
    assert_eq!(batch.events, vec![Event::PushServerUpdate { account_id: 1 }, Event::QueueRefresh]);
    assert_eq!(batch.unknown, 2);
    assert_eq!(batch.sender, NodeId(5));
}

#[test]
fn fields_appended_by_a_later_version_are_ignored() {
    // A StateChange with two extra trailing bytes, then a normal event.
    let msg = raw(&[(tag::STATE_CHANGE, &[1, 2, 3, 0xaa, 0xbb]), (tag::QUEUE_STATUS, &[1, 7])]);
    let batch = decode(&msg).unwrap();
    assert_eq!(
        batch.events,
        vec![
            Event::StateChange { account_id: 1, change_id: 2, types: DataTypes(3) },
            Event::QueueStatus { paused: true }
        ]
    );
}

#[test]
fn garbage_gives_clear_errors() {
    let cases: Vec<(Bytes, DecodeError)> = vec![
        (Bytes::new(), DecodeError::Empty),
        (Bytes::from_static(b"{\"json\":true}"), DecodeError::UnsupportedVersion(b'{')),
        (Bytes::from_static(&[2, 0, 0]), DecodeError::UnsupportedVersion(2)),
        (Bytes::from_static(&[1, 0, 0, 0]), DecodeError::Truncated { what: "the sender id" }),
        (Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 2]), DecodeError::Truncated { what: "an event" }),
        (
            Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 9, 1]),
            DecodeError::Truncated { what: "an event" },
        ),
        (raw(&[(tag::EMAIL_PUSH, &[1, 2])]), DecodeError::Truncated { what: "a change id" }),
        (
            raw(&[(tag::QUEUE_STATUS, &[2])]),
            DecodeError::Invalid { kind: tag::QUEUE_STATUS, what: "a flag that is neither 0 nor 1" },
        ),
        (
            raw(&[(tag::PUSH_SERVER_UPDATE, &[0xff, 0xff, 0xff, 0xff, 0x1f])]),
            DecodeError::Invalid { kind: tag::PUSH_SERVER_UPDATE, what: "a 32-bit id out of range" },
        ),
        (
            raw(&[(tag::STATE_CHANGE, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02])]),
            DecodeError::Invalid { kind: tag::STATE_CHANGE, what: "a number larger than 64 bits" },
        ),
        (
            raw(&[(tag::CALENDAR_ALERT, &[1, 1, 0, 2, 0xc3, 0x28, 0])]),
            DecodeError::Invalid { kind: tag::CALENDAR_ALERT, what: "text that is not UTF-8" },
        ),
        // A huge declared count is refused before anything is allocated for it.
        (
            raw(&[(tag::CACHE_INVALIDATE, &[1, 0xff, 0xff, 0xff, 0xff, 0x0f])]),
            DecodeError::Truncated { what: "cache ids" },
        ),
        (raw(&[(tag::REGISTRY_INSERT, &[1, 50, b'x'])]), DecodeError::Truncated { what: "an object id" }),
    ];
    for (bytes, expected) in cases {
        assert_eq!(decode(&bytes), Err(expected.clone()), "{bytes:?}");
        assert!(!expected.to_string().is_empty());
    }
    assert!(DecodeError::UnsupportedVersion(2).to_string().contains("format 2"));
}

#[test]
fn too_many_events_are_refused() {
    let mut out = vec![FORMAT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0];
    for _ in 0..=MAX_DECODED_EVENTS {
        out.extend_from_slice(&[tag::QUEUE_REFRESH, 0]);
    }
    assert_eq!(decode(&Bytes::from(out)), Err(DecodeError::TooManyEvents));
}

fn any_event() -> impl Strategy<Value = Event> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from);
    prop_oneof![
        (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(a, c, t)| Event::StateChange {
            account_id: a,
            change_id: c,
            types: DataTypes(t)
        }),
        (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(a, e, c)| Event::EmailPush {
            account_id: a,
            email_id: e,
            change_id: c
        }),
        (any::<u32>(), any::<u32>(), any::<Option<i64>>(), ".{0,20}", ".{0,20}").prop_map(
            |(a, e, r, u, al)| {
                Event::CalendarAlert { account_id: a, event_id: e, recurrence_id: r, uid: u, alert_id: al }
            }
        ),
        any::<u32>().prop_map(|a| Event::PushServerUpdate { account_id: a }),
        (any::<u16>(), bytes())
            .prop_map(|(t, id)| Event::RegistryInsert(ObjectId { object_type: ObjectType(t), id })),
        (any::<u16>(), bytes())
            .prop_map(|(t, id)| Event::RegistryDelete(ObjectId { object_type: ObjectType(t), id })),
        any::<u16>().prop_map(|t| Event::RegistryReload(ObjectType(t))),
        (any::<u16>(), proptest::collection::vec(any::<u64>(), 0..20))
            .prop_map(|(k, ids)| Event::CacheInvalidate { kind: CacheKind(k), ids }),
        any::<u16>().prop_map(|k| Event::CacheInvalidateAll(CacheKind(k))),
        any::<u16>().prop_map(|k| Event::CacheInvalidateNegative(CacheKind(k))),
        any::<bool>().prop_map(|p| Event::QueueStatus { paused: p }),
        Just(Event::QueueRefresh),
        (any::<u32>(), bytes()).prop_map(|(k, payload)| Event::Application { kind: k, payload }),
    ]
}

proptest! {
    #[test]
    fn random_batches_round_trip(sender in any::<u64>(), events in proptest::collection::vec(any_event(), 0..MAX_BATCH)) {
        let batch = decode(&encode(NodeId(sender), &events)).unwrap();
        prop_assert_eq!(batch, Batch { sender: NodeId(sender), events, unknown: 0 });
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&Bytes::from(bytes));
    }

    #[test]
    fn every_truncation_of_a_valid_message_is_an_error_or_a_prefix(events in proptest::collection::vec(any_event(), 1..8), cut in any::<prop::sample::Index>()) {
        let full = encode(NodeId(1), &events);
        let at = cut.index(full.len());
        match decode(&full.slice(..at)) {
            // Cutting exactly between events leaves a valid shorter batch.
            Ok(batch) => prop_assert!(events.starts_with(&batch.events)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
