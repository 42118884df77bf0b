//! Stalwart's format: golden bytes computed by hand from the layout, the
//! bounds, the mapping's edges, and round trips.

use super::*;
use proptest::prelude::*;

/// Node 300: LEB128 `0xac 0x02`.
const NODE: NodeId = NodeId(300);
const NODE_BYTES: [u8; 2] = [0xac, 0x02];

fn message(events: &[u8]) -> Bytes {
    Bytes::from([&NODE_BYTES[..], events].concat())
}

fn object(object_type: u16, id: &str) -> ObjectId {
    ObjectId { object_type: ObjectType(object_type), id: Bytes::copy_from_slice(id.as_bytes()) }
}

/// Each event with its bytes, written out from the layout.
fn golden() -> Vec<(Event, Vec<u8>)> {
    vec![
        // tag 0, change_id 1234 = 0xd2 0x09, types 0b1011, account 7.
        (
            Event::StateChange { account_id: 7, change_id: 1234, types: DataTypes(0b1011) },
            vec![0, 0xd2, 0x09, 0x0b, 7],
        ),
        // tag 1, account 3, event 4, recurrence 1_700_000_000, uid "u@x", alert "a1".
        (
            Event::CalendarAlert {
                account_id: 3,
                event_id: 4,
                recurrence_id: Some(1_700_000_000),
                uid: "u@x".into(),
                alert_id: "a1".into(),
            },
            vec![1, 3, 4, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 3, b'u', b'@', b'x', 2, b'a', b'1'],
        ),
        // No recurrence is 0; -1 is the u64 0xffff_ffff_ffff_ffff (ten bytes).
        (
            Event::CalendarAlert {
                account_id: 1,
                event_id: 2,
                recurrence_id: None,
                uid: String::new(),
                alert_id: "é".into(),
            },
            vec![1, 1, 2, 0, 0, 2, 0xc3, 0xa9],
        ),
        (
            Event::CalendarAlert {
                account_id: 0,
                event_id: 0,
                recurrence_id: Some(-1),
                uid: "u".into(),
                alert_id: String::new(),
            },
            vec![1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, b'u', 0],
        ),
        // tag 2, account 5, email 129 = 0x81 0x01, change 3.
        (Event::EmailPush { account_id: 5, email_id: 129, change_id: 3 }, vec![2, 5, 0x81, 0x01, 3]),
        (Event::PushServerUpdate { account_id: 42 }, vec![3, 42]),
        // tag 4, object type 12, item id 300 = 0xac 0x02.
        (Event::RegistryInsert(object(12, "300")), vec![4, 12, 0xac, 0x02]),
        (Event::RegistryDelete(object(1, "0")), vec![5, 1, 0]),
        (Event::RegistryReload(ObjectType(200)), vec![6, 0xc8, 0x01]),
        // tag 7, two entries of marker 3 (ids 5 and 300).
        (Event::CacheInvalidate { kind: CacheKind(3), ids: vec![5, 300] }, vec![7, 2, 3, 5, 3, 0xac, 0x02]),
        // Marker 10 carries two u32: (1, 2).
        (Event::CacheInvalidate { kind: CacheKind(10), ids: vec![(1 << 32) | 2] }, vec![7, 1, 10, 1, 2]),
        (Event::CacheInvalidateAll(CacheKind::ALL), vec![8]),
        (Event::CacheInvalidateNegative(CacheKind::ALL), vec![9]),
        (Event::QueueStatus { paused: false }, vec![10]),
        (Event::QueueStatus { paused: true }, vec![11]),
        (Event::QueueRefresh, vec![12]),
    ]
}

#[test]
fn every_event_has_its_golden_bytes() {
    for (event, bytes) in golden() {
        let encoded = encode_stalwart(NODE, std::slice::from_ref(&event)).unwrap();
        assert_eq!(encoded, vec![message(&bytes)], "{event:?}");
        let batch = decode_stalwart(&message(&bytes)).unwrap();
        assert_eq!(batch, Batch { sender: NODE, events: vec![event.clone()], unknown: 0 }, "{event:?}");
    }
    // All of them in one message, in order.
    let (events, bytes): (Vec<Event>, Vec<Vec<u8>>) = golden().into_iter().unzip();
    let whole = message(&bytes.concat());
    assert_eq!(encode_stalwart(NODE, &events).unwrap(), vec![whole.clone()]);
    assert_eq!(decode_stalwart(&whole).unwrap().events, events);
    // A node id of one byte, and a message with no events.
    assert_eq!(
        encode_stalwart(NodeId(5), &[Event::QueueRefresh]).unwrap(),
        vec![Bytes::from_static(&[5, 12])]
    );
    assert_eq!(decode_stalwart(&Bytes::from_static(&[5])).unwrap().events, vec![]);
    assert!(encode_stalwart(NODE, &[]).unwrap().is_empty());
}

#[test]
fn mixed_cache_entries_arrive_as_runs_of_one_marker() {
    // One Stalwart event: markers 0, 0, 10 (1, 2), 0.
    let bytes = message(&[7, 4, 0, 5, 0, 6, 10, 1, 2, 0, 7]);
    let events = decode_stalwart(&bytes).unwrap().events;
    assert_eq!(
        events,
        vec![
            Event::CacheInvalidate { kind: CacheKind(0), ids: vec![5, 6] },
            Event::CacheInvalidate { kind: CacheKind(10), ids: vec![(1 << 32) | 2] },
            Event::CacheInvalidate { kind: CacheKind(0), ids: vec![7] },
        ]
    );
    // Sent back, each run is its own event.
    let again = encode_stalwart(NODE, &events).unwrap();
    assert_eq!(again, vec![message(&[7, 2, 0, 5, 0, 6, 7, 1, 10, 1, 2, 7, 1, 0, 7])]);
    // An empty list decodes to nothing.
    assert_eq!(decode_stalwart(&message(&[7, 0, 12])).unwrap().events, vec![Event::QueueRefresh]);
}

#[test]
fn lossy_mappings_are_the_documented_ones() {
    let sent = [
        Event::CacheInvalidateAll(CacheKind::ACCOUNT),
        Event::CacheInvalidateNegative(CacheKind(0)),
        Event::CalendarAlert {
            account_id: 1,
            event_id: 1,
            recurrence_id: Some(0),
            uid: "u".into(),
            alert_id: "a".into(),
        },
        Event::CacheInvalidate { kind: CacheKind(2), ids: vec![] },
        Event::RegistryInsert(object(1, "007")),
    ];
    let messages = encode_stalwart(NODE, &sent).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        decode_stalwart(&messages[0]).unwrap().events,
        vec![
            Event::CacheInvalidateAll(CacheKind::ALL),
            Event::CacheInvalidateNegative(CacheKind::ALL),
            Event::CalendarAlert {
                account_id: 1,
                event_id: 1,
                recurrence_id: None,
                uid: "u".into(),
                alert_id: "a".into(),
            },
            Event::RegistryInsert(object(1, "7")),
        ]
    );
}

#[test]
fn what_has_no_stalwart_form_is_refused() {
    let refused = [
        Event::Application { kind: 1, payload: Bytes::new() },
        Event::CacheInvalidate { kind: CacheKind(256), ids: vec![1] },
        Event::CacheInvalidate { kind: CacheKind::ALL, ids: vec![1] },
        Event::CacheInvalidate { kind: CacheKind(1), ids: vec![u64::from(u32::MAX) + 1] },
        Event::RegistryInsert(object(1, "192.0.2.1")),
        Event::RegistryDelete(object(1, "")),
        Event::RegistryDelete(object(1, "18446744073709551616")),
    ];
    for event in refused {
        let e = check_stalwart(&event).unwrap_err();
        assert!(matches!(e, EncodeError::Unrepresentable { kind, .. } if kind == event.kind()), "{event:?}");
        assert!(encode_stalwart(NODE, &[Event::QueueRefresh, event]).is_err());
        assert!(!e.to_string().is_empty());
    }
    assert!(check_stalwart(&Event::CacheInvalidate { kind: CacheKind(10), ids: vec![u64::MAX] }).is_ok());
    assert_eq!(
        encode_stalwart(NodeId(65_536), &[Event::QueueRefresh]),
        Err(EncodeError::SenderOutOfRange(NodeId(65_536)))
    );
    assert_eq!(stalwart_node_id(NodeId(65_535)), Ok(65_535));
}

#[test]
fn long_lists_are_split_at_one_hundred_events() {
    let events: Vec<Event> = (0..250u32).map(|a| Event::PushServerUpdate { account_id: a }).collect();
    let messages = encode_stalwart(NODE, &events).unwrap();
    assert_eq!(messages.len(), 3);
    let mut decoded = Vec::new();
    for (m, expected) in messages.iter().zip([100, 100, 50]) {
        let batch = decode_stalwart(m).unwrap();
        assert_eq!(batch.events.len(), expected);
        decoded.extend(batch.events);
    }
    assert_eq!(decoded, events);
    // Empty invalidations do not count towards the hundred.
    let mut with_empty = vec![Event::CacheInvalidate { kind: CacheKind(1), ids: vec![] }; 10];
    with_empty.extend(events.iter().take(100).cloned());
    assert_eq!(encode_stalwart(NODE, &with_empty).unwrap().len(), 1);
}

#[test]
fn garbage_gives_clear_errors() {
    let cases: Vec<(Bytes, DecodeError)> = vec![
        (Bytes::new(), DecodeError::Empty),
        (Bytes::from_static(&[0x80]), DecodeError::Truncated { what: "the sender id" }),
        (Bytes::from_static(&[0x80, 0x80, 0x04]), DecodeError::BadSender),
        (message(&[13]), DecodeError::UnknownKind(13)),
        (message(&[12, 200]), DecodeError::UnknownKind(200)),
        (message(&[2, 5, 0x81]), DecodeError::Truncated { what: "an email id" }),
        (message(&[0, 1, 2]), DecodeError::Truncated { what: "an account id" }),
        (
            message(&[3, 0xff, 0xff, 0xff, 0xff, 0x1f]),
            DecodeError::Invalid { kind: 3, what: "a 32-bit id out of range" },
        ),
        (
            message(&[6, 0x80, 0x80, 0x04]),
            DecodeError::Invalid { kind: 6, what: "a 16-bit type out of range" },
        ),
        (
            message(&[0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]),
            DecodeError::Invalid { kind: 0, what: "a number larger than 64 bits" },
        ),
        (message(&[1, 1, 1, 0, 5, b'a']), DecodeError::Truncated { what: "a calendar UID" }),
        (
            message(&[1, 1, 1, 0, 1, 0xff, 0]),
            DecodeError::Invalid { kind: 1, what: "text that is not UTF-8" },
        ),
        // A huge declared count is refused before anything is allocated for it.
        (message(&[7, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1]), DecodeError::Truncated { what: "cache entries" }),
        (message(&[7, 2, 0, 1, 10, 1]), DecodeError::Truncated { what: "a cache id" }),
        (message(&[7, 3, 0, 1, 0, 1]), DecodeError::Truncated { what: "cache entries" }),
        (message(&[7, 1, 10, 1, 0x80]), DecodeError::Truncated { what: "a cache id" }),
    ];
    for (bytes, expected) in cases {
        assert_eq!(decode_stalwart(&bytes), Err(expected.clone()), "{bytes:?}");
        assert!(!expected.to_string().is_empty());
    }
}

#[test]
fn more_than_one_hundred_events_are_refused() {
    let hundred = vec![12u8; STALWART_MAX_EVENTS];
    assert_eq!(decode_stalwart(&message(&hundred)).unwrap().events.len(), 100);
    let more = vec![12u8; STALWART_MAX_EVENTS + 1];
    assert_eq!(decode_stalwart(&message(&more)), Err(DecodeError::TooManyEvents));
}

/// Events the format carries exactly (the lossy cases have their own test).
fn any_event() -> impl Strategy<Value = Event> {
    let marker = any::<u8>();
    prop_oneof![
        (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(a, c, t)| Event::StateChange {
            account_id: a,
            change_id: c,
            types: DataTypes(t)
        }),
        (any::<u32>(), any::<u32>(), any::<Option<i64>>(), ".{0,20}", ".{0,20}").prop_map(
            |(a, e, r, u, al)| Event::CalendarAlert {
                account_id: a,
                event_id: e,
                recurrence_id: r.filter(|&r| r != 0),
                uid: u,
                alert_id: al
            }
        ),
        (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(a, e, c)| Event::EmailPush {
            account_id: a,
            email_id: e,
            change_id: c
        }),
        any::<u32>().prop_map(|a| Event::PushServerUpdate { account_id: a }),
        (any::<u16>(), any::<u64>(), any::<bool>()).prop_map(|(t, id, insert)| {
            let o = ObjectId { object_type: ObjectType(t), id: Bytes::from(id.to_string()) };
            if insert {
                Event::RegistryInsert(o)
            } else {
                Event::RegistryDelete(o)
            }
        }),
        any::<u16>().prop_map(|t| Event::RegistryReload(ObjectType(t))),
        (marker, proptest::collection::vec(any::<u64>(), 1..8)).prop_map(|(m, ids)| {
            let ids = if m == PAIR_MARKER { ids } else { ids.into_iter().map(|i| i & 0xffff_ffff).collect() };
            Event::CacheInvalidate { kind: CacheKind(u16::from(m)), ids }
        }),
        Just(Event::CacheInvalidateAll(CacheKind::ALL)),
        Just(Event::CacheInvalidateNegative(CacheKind::ALL)),
        any::<bool>().prop_map(|paused| Event::QueueStatus { paused }),
        Just(Event::QueueRefresh),
    ]
}

fn decode_all(messages: &[Bytes]) -> Vec<Event> {
    messages.iter().flat_map(|m| decode_stalwart(m).unwrap().events).collect()
}

proptest! {
    #[test]
    fn events_round_trip(node in 0u16.., events in proptest::collection::vec(any_event(), 0..250)) {
        let messages = encode_stalwart(NodeId(u64::from(node)), &events).unwrap();
        prop_assert_eq!(messages.len(), events.len().div_ceil(STALWART_MAX_EVENTS));
        for m in &messages {
            prop_assert_eq!(decode_stalwart(m).unwrap().sender, NodeId(u64::from(node)));
        }
        prop_assert_eq!(decode_all(&messages), events);
    }

    #[test]
    fn any_bytes_decode_without_panic_and_decoded_events_re_encode(
        bytes in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        if let Ok(batch) = decode_stalwart(&Bytes::from(bytes)) {
            let messages = encode_stalwart(batch.sender, &batch.events).unwrap();
            prop_assert_eq!(decode_all(&messages), batch.events);
        }
    }
}
