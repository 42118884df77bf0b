//! The slot map's unit tests: both reply parsers (RESP2 and RESP3, hostile
//! input), redirects, fingerprints and consensus.

use bytes::Bytes;

use super::*;
use crate::error::ServerError;
use crate::resp::Frame;

fn b(s: &str) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

fn i(n: i64) -> Frame {
    Frame::Integer(n)
}

fn arr(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

/// A RESP3 map, or the RESP2 flat array with the same fields.
fn obj(resp3: bool, fields: Vec<(&str, Frame)>) -> Frame {
    if resp3 {
        Frame::Map(fields.into_iter().map(|(k, v)| (b(k), v)).collect())
    } else {
        arr(fields.into_iter().flat_map(|(k, v)| [b(k), v]).collect())
    }
}

fn node(resp3: bool, id: &str, port: i64, endpoint: &str, role: &str, health: &str) -> Frame {
    obj(
        resp3,
        vec![
            ("id", b(id)),
            ("port", i(port)),
            ("ip", b("10.0.0.1")),
            ("endpoint", b(endpoint)),
            ("role", b(role)),
            ("replication-offset", i(port * 10)),
            ("health", b(health)),
        ],
    )
}

fn shard(resp3: bool, slots: &[i64], nodes: Vec<Frame>) -> Frame {
    obj(resp3, vec![("slots", arr(slots.iter().map(|&s| i(s)).collect())), ("nodes", arr(nodes))])
}

/// Three shards covering every slot, and a fourth serving none.
fn three_shards(resp3: bool) -> Frame {
    arr(vec![
        shard(
            resp3,
            &[0, 5460],
            vec![
                node(resp3, "a1", 30001, "127.0.0.1", "master", "online"),
                node(resp3, "a2", 30004, "127.0.0.1", "replica", "online"),
            ],
        ),
        shard(
            resp3,
            &[5461, 10000, 10001, 10922],
            vec![
                node(resp3, "b2", 30005, "127.0.0.1", "replica", "failed"),
                node(resp3, "b1", 30002, "127.0.0.1", "master", "online"),
            ],
        ),
        shard(
            resp3,
            &[10923, 16383],
            vec![
                node(resp3, "c1", 30003, "127.0.0.1", "master", "online"),
                node(resp3, "c2", 30006, "127.0.0.1", "replica", "loading"),
                node(resp3, "c3", 30008, "127.0.0.1", "replica", "online"),
            ],
        ),
        shard(resp3, &[], vec![node(resp3, "d1", 30007, "127.0.0.1", "master", "online")]),
    ])
}

fn addr(port: u16) -> NodeAddr {
    NodeAddr::new("127.0.0.1", port)
}

fn check_three_shards(map: &SlotMap) {
    assert!(map.is_complete());
    assert_eq!(map.shards().len(), 4);
    assert_eq!(map.primary_for_slot(0), Some(&addr(30001)));
    assert_eq!(map.primary_for_slot(5460), Some(&addr(30001)));
    assert_eq!(map.primary_for_slot(5461), Some(&addr(30002)));
    assert_eq!(map.primary_for_slot(10001), Some(&addr(30002)));
    assert_eq!(map.primary_for_slot(16383), Some(&addr(30003)));
    assert_eq!(map.primary_for_slot(16384), None);
    assert_eq!(map.replicas_for_slot(0).collect::<Vec<_>>(), [&addr(30004)]);
    assert_eq!(map.replicas_for_slot(6000).count(), 0, "failed replica skipped");
    assert_eq!(map.replicas_for_slot(12000).collect::<Vec<_>>(), [&addr(30008)], "loading replica skipped");
    let a = map.shard_for_slot(0).unwrap();
    assert_eq!(a.primary.id.as_deref(), Some("a1"));
    assert_eq!(a.replicas[0].replication_offset, 300040);
    assert_eq!(map.shard_for_slot(6000).unwrap().replicas[0].health, Health::Failed);
    let primaries: Vec<_> = map.primaries().collect();
    assert_eq!(primaries, [&addr(30001), &addr(30002), &addr(30003)], "slotless shard is no fan-out target");
    let nodes: Vec<u16> = map.nodes().iter().map(|a| a.port).collect();
    assert_eq!(nodes, [30001, 30002, 30003, 30004, 30005, 30006, 30007, 30008]);
    let ranges: Vec<(u16, u16, u16)> =
        map.ranges().into_iter().map(|(a, b, p)| (a, b, p.map_or(0, |p| p.port))).collect();
    assert_eq!(ranges, [(0, 5460, 30001), (5461, 10922, 30002), (10923, 16383, 30003)]);
}

#[test]
fn parses_cluster_shards_resp3_and_resp2() {
    let resp3 = SlotMap::from_shards(&three_shards(true), "seed", false).unwrap();
    check_three_shards(&resp3);
    let resp2 = SlotMap::from_shards(&three_shards(false), "seed", false).unwrap();
    check_three_shards(&resp2);
    assert_eq!(resp3.fingerprint(), resp2.fingerprint());
    assert_eq!(resp3.version(), 0);
}

#[test]
fn slots_sent_as_strings_are_accepted() {
    let nodes = arr(vec![node(true, "x", 7000, "h", "master", "online")]);
    let reply = arr(vec![obj(true, vec![("slots", arr(vec![b("0"), b("16383")])), ("nodes", nodes)])]);
    let map = SlotMap::from_shards(&reply, "seed", false).unwrap();
    assert!(map.is_complete());
    assert_eq!(map.primary_for_slot(9), Some(&NodeAddr::new("h", 7000)));
}

fn one_node_map(fields: Vec<(&str, Frame)>, asked: &str, tls: bool) -> Result<SlotMap, Error> {
    let reply = arr(vec![obj(
        true,
        vec![("slots", arr(vec![i(0), i(16383)])), ("nodes", arr(vec![obj(true, fields)]))],
    )]);
    SlotMap::from_shards(&reply, asked, tls)
}

fn host_for(endpoint: Option<Frame>, ip: &str) -> Arc<str> {
    let mut fields = vec![("port", i(7000)), ("ip", b(ip)), ("role", b("master"))];
    if let Some(e) = endpoint {
        fields.push(("endpoint", e));
    }
    let map = one_node_map(fields, "asked.example", false).unwrap();
    map.primary_for_slot(0).unwrap().host.clone()
}

#[test]
fn endpoint_rules() {
    assert_eq!(&*host_for(Some(b("node1.example")), "10.0.0.9"), "node1.example");
    assert_eq!(&*host_for(Some(b("?")), "10.0.0.9"), "10.0.0.9");
    assert_eq!(&*host_for(Some(b("?")), ""), "asked.example");
    assert_eq!(&*host_for(Some(b("")), "10.0.0.9"), "asked.example");
    assert_eq!(&*host_for(Some(Frame::Null), "10.0.0.9"), "asked.example");
    assert_eq!(&*host_for(None, "10.0.0.9"), "10.0.0.9");
    assert_eq!(&*host_for(Some(b("::1")), ""), "::1");
    assert_eq!(&*host_for(Some(b("[::1]")), ""), "::1");
}

#[test]
fn tls_port_is_chosen_for_tls() {
    let fields =
        || vec![("port", i(7000)), ("tls-port", i(7443)), ("endpoint", b("h")), ("role", b("master"))];
    let port = |tls| one_node_map(fields(), "a", tls).unwrap().primary_for_slot(0).unwrap().port;
    assert_eq!(port(false), 7000);
    assert_eq!(port(true), 7443);
    // TLS only: `port` is absent (or 0), the TLS port is the only one.
    let tls_only = vec![("port", i(0)), ("tls-port", i(7443)), ("endpoint", b("h")), ("role", b("master"))];
    assert_eq!(one_node_map(tls_only, "a", false).unwrap().primary_for_slot(0).unwrap().port, 7443);
}

#[test]
fn shard_without_primary_leaves_slots_unassigned() {
    let reply = arr(vec![
        shard(true, &[0, 99], vec![node(true, "r", 7001, "h", "replica", "online")]),
        shard(true, &[100, 16383], vec![node(true, "m", 7000, "h", "master", "online")]),
    ]);
    let map = SlotMap::from_shards(&reply, "a", false).unwrap();
    assert!(!map.is_complete());
    assert_eq!(map.assigned_slots(), 16284);
    assert_eq!(map.primary_for_slot(50), None);
    assert_eq!(map.shard_for_slot(50), None);
    assert_eq!(map.replicas_for_slot(50).count(), 0);
    assert_eq!(map.primary_for_slot(100).map(|a| a.port), Some(7000));
}

#[test]
fn online_primary_wins_in_a_failover() {
    let reply = arr(vec![shard(
        true,
        &[0, 16383],
        vec![
            node(true, "old", 7000, "h", "master", "failed"),
            node(true, "new", 7001, "h", "master", "online"),
            node(true, "late", 7002, "h", "master", "online"),
        ],
    )]);
    let map = SlotMap::from_shards(&reply, "a", false).unwrap();
    assert_eq!(map.primary_for_slot(0).map(|a| a.port), Some(7001));
}

#[test]
fn bad_replies_are_typed_errors() {
    let err = Frame::SimpleError(ServerError::from_line("ERR unknown subcommand 'SHARDS'").unwrap());
    assert!(matches!(SlotMap::from_shards(&err, "a", false), Err(Error::Server(_))));
    assert!(matches!(SlotMap::from_slots(&err, "a"), Err(Error::Server(_))));
    assert!(matches!(SlotMap::from_shards(&i(3), "a", false), Err(Error::Type { .. })));
    let m =
        |slots: &[i64]| arr(vec![shard(true, slots, vec![node(true, "m", 7000, "h", "master", "online")])]);
    for bad in [&[0, 16384][..], &[5, 3], &[0], &[-1, 5], &[0, 10, 5, 20]] {
        assert!(matches!(SlotMap::from_shards(&m(bad), "a", false), Err(Error::Type { .. })), "{bad:?}");
    }
    let overlap = arr(vec![
        shard(true, &[0, 100], vec![node(true, "m", 7000, "h", "master", "online")]),
        shard(true, &[100, 200], vec![node(true, "n", 7001, "h", "master", "online")]),
    ]);
    match SlotMap::from_shards(&overlap, "a", false) {
        Err(Error::Type { got, .. }) => assert!(got.contains("slot 100"), "{got}"),
        other => panic!("{other:?}"),
    }
    let shard_not_map = arr(vec![i(1)]);
    assert!(matches!(SlotMap::from_shards(&shard_not_map, "a", false), Err(Error::Type { .. })));
    let odd_flat = arr(vec![arr(vec![b("slots")])]);
    assert!(matches!(SlotMap::from_shards(&odd_flat, "a", false), Err(Error::Type { .. })));
    assert!(matches!(SlotMap::from_slots(&arr(vec![arr(vec![i(0), i(1)])]), "a"), Err(Error::Type { .. })));
}

#[test]
fn nodes_without_port_or_role_are_skipped() {
    let reply = arr(vec![shard(
        true,
        &[0, 16383],
        vec![
            obj(true, vec![("endpoint", b("h")), ("role", b("master"))]),
            obj(true, vec![("endpoint", b("h")), ("port", i(7000)), ("role", b("arbiter"))]),
            node(true, "m", 7001, "h", "master", "online"),
        ],
    )]);
    let map = SlotMap::from_shards(&reply, "a", false).unwrap();
    assert_eq!(map.primary_for_slot(0).map(|a| a.port), Some(7001));
    assert!(map.shard_for_slot(0).unwrap().replicas.is_empty());
}

/// A one-shard map whose primary and replica report these offsets.
fn offsets(primary: i64, replica: i64) -> Shard {
    let node = |port: i64, role: &str, offset: i64| {
        obj(
            true,
            vec![
                ("port", i(port)),
                ("endpoint", b("h")),
                ("role", b(role)),
                ("replication-offset", i(offset)),
                ("health", b("online")),
            ],
        )
    };
    let reply = arr(vec![shard(
        true,
        &[0, 16383],
        vec![node(7000, "master", primary), node(7001, "replica", replica)],
    )]);
    SlotMap::from_shards(&reply, "a", false).unwrap().shards()[0].clone()
}

#[test]
fn replica_lag_never_overflows() {
    let lag = |p, r| {
        let shard = offsets(p, r);
        shard.lag_of(&shard.replicas[0])
    };
    assert_eq!(lag(1000, 400), Lag::Behind(600));
    assert_eq!(lag(400, 1000), Lag::Behind(0), "a replica ahead is not behind");
    assert_eq!(lag(0, 5), Lag::Unknown);
    assert_eq!(lag(5, 0), Lag::Unknown);
    // Hostile values: `primary - replica` would overflow an i64 here.
    assert_eq!(lag(i64::MAX, 1), Lag::Behind(i64::MAX as u64 - 1));
    assert_eq!(lag(i64::MAX, i64::MIN), Lag::Invalid);
    assert_eq!(lag(i64::MIN, i64::MAX), Lag::Invalid);
    assert_eq!(lag(-1, 5), Lag::Invalid);
    assert_eq!(lag(5, -1), Lag::Invalid);
    // And the decision made from them.
    assert!(Lag::Unknown.is_within(0));
    assert!(Lag::Behind(10).is_within(10));
    assert!(!Lag::Behind(11).is_within(10));
    assert!(!Lag::Behind(i64::MAX as u64 - 1).is_within(16 << 20));
    assert!(!Lag::Behind(u64::MAX).is_within(i64::MAX));
    assert!(!Lag::Behind(0).is_within(-1), "a negative limit tolerates nothing");
    assert!(!Lag::Invalid.is_within(i64::MAX));
}

#[test]
fn hostile_ports_and_slots_are_refused_without_panic() {
    // Ports out of u16 range, zero or negative: the node is left out, in
    // CLUSTER SHARDS and CLUSTER SLOTS alike.
    for bad in [0, -1, 65536, i64::MAX, i64::MIN] {
        let fields = vec![("port", i(bad)), ("endpoint", b("h")), ("role", b("master"))];
        let map = one_node_map(fields, "a", false).unwrap();
        assert_eq!(map.primary_for_slot(0), None, "port {bad}");
        let reply = arr(vec![arr(vec![i(0), i(16383), slot_node(b("h"), bad, "x")])]);
        assert_eq!(SlotMap::from_slots(&reply, "a").unwrap().primary_for_slot(0), None, "port {bad}");
    }
    let fields = vec![("port", i(65535)), ("endpoint", b("h")), ("role", b("master"))];
    assert_eq!(one_node_map(fields, "a", false).unwrap().primary_for_slot(0).map(|a| a.port), Some(65535));
    // Slots past the last one, negative, huge, or ranges that run backwards.
    let m =
        |slots: &[i64]| arr(vec![shard(true, slots, vec![node(true, "m", 7000, "h", "master", "online")])]);
    for bad in [&[16384, 16384][..], &[0, i64::MAX], &[i64::MIN, 0], &[16383, 0], &[1, 0], &[65535, 65535]] {
        assert!(matches!(SlotMap::from_shards(&m(bad), "a", false), Err(Error::Type { .. })), "{bad:?}");
    }
    let n = slot_node(b("h"), 7000, "x");
    for (start, end) in [(16384, 16384), (5, 4), (-1, 3), (0, i64::MAX), (i64::MIN, i64::MIN)] {
        let reply = arr(vec![arr(vec![i(start), i(end), n.clone()])]);
        assert!(matches!(SlotMap::from_slots(&reply, "a"), Err(Error::Type { .. })), "{start}-{end}");
    }
    // Offsets that do not parse count as not reported.
    let fields = vec![
        ("port", i(7000)),
        ("endpoint", b("h")),
        ("role", b("master")),
        ("replication-offset", b("99999999999999999999999")),
    ];
    let map = one_node_map(fields, "a", false).unwrap();
    assert_eq!(map.shards()[0].primary.replication_offset, 0);
    // Ranges built directly: out of range or backwards are errors, not panics.
    let shard = || Shard { primary: Node::from_addr(addr(7000)), replicas: Vec::new() };
    for range in [(0, 16384), (16384, 16384), (u16::MAX, u16::MAX), (9, 8), (u16::MAX, 0)] {
        assert!(SlotMap::from_ranges(vec![(shard(), vec![range])]).is_err(), "{range:?}");
    }
}

fn slot_node(host: Frame, port: i64, id: &str) -> Frame {
    arr(vec![host, i(port), b(id)])
}

#[test]
fn parses_cluster_slots() {
    let meta = Frame::Map(vec![(b("ip"), b("10.0.0.7"))]);
    let reply = arr(vec![
        arr(vec![
            i(0),
            i(5460),
            slot_node(b("127.0.0.1"), 30001, "a1"),
            slot_node(b("127.0.0.1"), 30004, "a2"),
        ]),
        arr(vec![
            i(5461),
            i(10922),
            arr(vec![b("?"), i(30002), b("b1"), meta]),
            arr(vec![Frame::NullBulk, i(30005)]),
        ]),
        arr(vec![i(10923), i(16000), slot_node(b("127.0.0.1"), 30003, "c1")]),
        // A second range of the first primary: same shard.
        arr(vec![
            i(16001),
            i(16383),
            slot_node(b("127.0.0.1"), 30001, "a1"),
            slot_node(b("127.0.0.1"), 30004, "a2"),
        ]),
    ]);
    let map = SlotMap::from_slots(&reply, "seed.example").unwrap();
    assert!(map.is_complete());
    assert_eq!(map.shards().len(), 3);
    assert_eq!(map.primary_for_slot(16383), Some(&addr(30001)));
    assert_eq!(map.shard_index(16383), map.shard_index(0));
    assert_eq!(map.replicas_for_slot(16383).collect::<Vec<_>>(), [&addr(30004)]);
    assert_eq!(map.primary_for_slot(6000), Some(&NodeAddr::new("10.0.0.7", 30002)), "? falls back to ip");
    assert_eq!(
        map.replicas_for_slot(6000).collect::<Vec<_>>(),
        [&NodeAddr::new("seed.example", 30005)],
        "null endpoint means the asked host"
    );
    assert_eq!(map.shard_for_slot(0).unwrap().primary.id.as_deref(), Some("a1"));
    assert_eq!(map.shard_for_slot(6000).unwrap().replicas[0].id, None);
    let primaries: Vec<u16> = map.primaries().map(|a| a.port).collect();
    assert_eq!(primaries, [30001, 30002, 30003]);
}

fn three() -> SlotMap {
    SlotMap::from_shards(&three_shards(true), "seed", false).unwrap()
}

#[test]
fn apply_moved_to_a_known_primary() {
    let mut map = three();
    assert!(map.apply_moved(0, addr(30002)));
    assert_eq!(map.primary_for_slot(0), Some(&addr(30002)));
    assert_eq!(map.primary_for_slot(1), Some(&addr(30001)));
    assert_eq!(map.version(), 1);
    assert!(!map.apply_moved(0, addr(30002)), "no change");
    assert_eq!(map.version(), 1);
    assert!(!map.apply_moved(16384, addr(30002)), "out of range");
    assert!(map.is_complete());
    assert_eq!(map.shards().len(), 4);
}

#[test]
fn apply_moved_to_an_unknown_node_adds_a_placeholder() {
    let mut map = three();
    let new = NodeAddr::new("10.9.9.9", 6379);
    assert!(map.apply_moved(42, new.clone()));
    assert_eq!(map.primary_for_slot(42), Some(&new));
    assert_eq!(map.shards().len(), 5);
    assert_eq!(map.shard_for_slot(42).unwrap().primary.id, None);
    assert!(map.primaries().any(|p| *p == new));
    assert!(map.apply_moved(43, new.clone()));
    assert_eq!(map.shards().len(), 5, "the placeholder is reused");
    assert_eq!(map.version(), 2);
    assert!(map.nodes().contains(&&new));
}

#[test]
fn apply_moved_fills_an_unassigned_slot_and_empties_a_shard() {
    let reply = arr(vec![
        shard(true, &[0, 0], vec![node(true, "a", 7000, "h", "master", "online")]),
        shard(true, &[2, 16383], vec![node(true, "b", 7001, "h", "master", "online")]),
    ]);
    let mut map = SlotMap::from_shards(&reply, "s", false).unwrap();
    assert!(!map.is_complete());
    assert!(map.apply_moved(1, NodeAddr::new("h", 7001)));
    assert!(map.is_complete());
    assert!(map.apply_moved(0, NodeAddr::new("h", 7001)));
    assert_eq!(map.primaries().map(|a| a.port).collect::<Vec<_>>(), [7001]);
    assert_eq!(map.assigned_slots(), 16384);
}

#[test]
fn fingerprint_follows_routing_only() {
    let a = three();
    let mut b = three();
    b.shards[0].replicas.clear();
    b.shards[0].primary.id = None;
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert!(a.same_routing(&b));
    let mut c = three();
    c.apply_moved(100, addr(30003));
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert!(!a.same_routing(&c));
}

#[test]
fn consensus_prefers_the_majority() {
    let mut stale = three();
    stale.apply_moved(7, addr(30002));
    let mut views = vec![stale.clone(), three(), three(), stale, three()];
    views[1].shards[0].replicas.clear(); // the first of the majority is returned
    let picked = SlotMap::pick_consensus(views).unwrap();
    assert_eq!(picked.primary_for_slot(7), Some(&addr(30001)));
    assert!(picked.shards()[0].replicas.is_empty());
    assert!(SlotMap::pick_consensus(Vec::new()).is_none());
}

#[test]
fn consensus_ties_prefer_a_complete_view() {
    let partial = {
        let reply = arr(vec![shard(true, &[0, 100], vec![node(true, "m", 7000, "h", "master", "online")])]);
        SlotMap::from_shards(&reply, "s", false).unwrap()
    };
    let picked = SlotMap::pick_consensus(vec![partial.clone(), three()]).unwrap();
    assert!(picked.is_complete());
    let picked = SlotMap::pick_consensus(vec![three(), partial]).unwrap();
    assert!(picked.is_complete());
}

#[test]
fn from_ranges_builds_and_checks() {
    let shard = |port| Shard { primary: Node::from_addr(addr(port)), replicas: Vec::new() };
    let map =
        SlotMap::from_ranges(vec![(shard(1), vec![(0, 99), (200, 16383)]), (shard(2), vec![(100, 199)])])
            .unwrap();
    assert!(map.is_complete());
    assert_eq!(map.primary_for_slot(150), Some(&addr(2)));
    assert_eq!(map.primary_for_slot(99), Some(&addr(1)));
    assert!(SlotMap::from_ranges(vec![(shard(1), vec![(0, 16384)])]).is_err());
    assert!(SlotMap::from_ranges(vec![(shard(1), vec![(0, 5)]), (shard(2), vec![(5, 6)])]).is_err());
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// Frames shaped roughly like topology replies: the right field names,
    /// numbers near the slot bounds, nesting, and garbage.
    fn frame() -> impl Strategy<Value = Frame> {
        let leaf = prop_oneof![
            prop::sample::select(vec![
                "slots",
                "nodes",
                "id",
                "port",
                "tls-port",
                "ip",
                "endpoint",
                "role",
                "master",
                "replica",
                "health",
                "online",
                "failed",
                "replication-offset",
                "?",
                "",
                "h",
                "0",
                "16383",
            ])
            .prop_map(b),
            prop::sample::select(vec![-1i64, 0, 1, 100, 5460, 16383, 16384, 65535, 65536, i64::MAX])
                .prop_map(i),
            Just(Frame::Null),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
                prop::collection::vec((inner.clone(), inner), 0..5).prop_map(Frame::Map),
            ]
        })
    }

    proptest! {
        /// Hostile or broken replies give a map or an error, never a panic,
        /// and a map never points a slot at a shard that does not exist.
        #[test]
        fn parsing_never_panics(reply in frame()) {
            for map in [SlotMap::from_shards(&reply, "a", false), SlotMap::from_slots(&reply, "a")].into_iter().flatten() {
                for slot in 0..SLOTS {
                    if let Some(index) = map.shard_index(slot) {
                        prop_assert!(index < map.shards().len());
                    }
                }
                prop_assert_eq!(map.assigned_slots(), (0..SLOTS).filter(|&s| map.shard_index(s).is_some()).count());
            }
        }

        /// A stream of redirects keeps the per-shard counts true.
        #[test]
        fn moved_keeps_counts(moves in prop::collection::vec((0u16..16400, 30000u16..30010), 0..50)) {
            let mut map = three();
            for (slot, port) in moves {
                map.apply_moved(slot, addr(port));
            }
            for (index, &owned) in map.owned.iter().enumerate() {
                let counted = (0..SLOTS).filter(|&s| map.shard_index(s) == Some(index)).count();
                prop_assert_eq!(owned as usize, counted);
            }
            prop_assert!(map.is_complete());
        }
    }
}

#[test]
fn debug_is_short() {
    let shown = format!("{:?}", three());
    assert!(shown.contains("0-5460: 127.0.0.1:30001"), "{shown}");
    assert!(shown.len() < 4000, "{}", shown.len());
}
