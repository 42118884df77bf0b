//! Arbitrary frames as `CLUSTER SHARDS` and `CLUSTER SLOTS` replies. The
//! first byte picks the parser (and TLS for SHARDS); the rest is decoded as
//! RESP (RESP2 or RESP3) into a frame. Parsing returns a slot map or a typed
//! error, never panics, and a map satisfies the invariants: every slot is in
//! range and points at an existing shard or none, the per-shard counts add
//! up to the assigned slots, the run-length view covers 0..16384 without gap
//! or overlap, `primaries()` are exactly the shards serving a slot; and after
//! MOVED redirects from the input the same still holds.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redwire::resp::{DecodeLimits, Decoder};
use redwire::__unstable::route::{apply_moved, slot_map_from_shards, slot_map_from_slots};
use redwire::cluster::{SlotMap, SLOTS};
use redwire::NodeAddr;

fn check(map: &SlotMap) {
    let shards = map.shards().len();
    let mut owned = vec![0usize; shards];
    for slot in 0..SLOTS {
        match map.shard_index(slot) {
            Some(i) => {
                assert!(i < shards, "slot {slot} points at shard {i} of {shards}");
                owned[i] += 1;
                assert_eq!(map.primary_for_slot(slot), Some(&map.shards()[i].primary.addr));
            }
            None => assert!(map.primary_for_slot(slot).is_none()),
        }
    }
    assert!(map.shard_index(SLOTS).is_none() && map.shard_index(u16::MAX).is_none());
    let assigned: usize = owned.iter().sum();
    assert_eq!(assigned, map.assigned_slots(), "per-shard counts disagree with the slots");
    assert_eq!(map.is_complete(), assigned == usize::from(SLOTS));
    let serving: Vec<&NodeAddr> =
        map.shards().iter().zip(&owned).filter(|(_, &n)| n > 0).map(|(s, _)| &s.primary.addr).collect();
    assert_eq!(map.primaries().collect::<Vec<_>>(), serving);
    let mut next = 0u32;
    for (first, last, primary) in map.ranges() {
        assert_eq!(u32::from(first), next, "ranges leave a gap or overlap");
        assert!(first <= last && last < SLOTS);
        assert_eq!(map.primary_for_slot(first), primary);
        assert_eq!(map.primary_for_slot(last), primary);
        next = u32::from(last) + 1;
    }
    assert_eq!(next, u32::from(SLOTS), "ranges do not reach the last slot");
    let nodes = map.nodes();
    assert!(nodes.windows(2).all(|w| w[0] < w[1]), "nodes() is not sorted and unique");
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else { return };
    let limits = DecodeLimits { max_depth: 16, max_elements: 1 << 14, ..DecodeLimits::default() };
    let mut buf = BytesMut::from(rest);
    let Ok(Some(frame)) = Decoder::with_limits(limits).decode(&mut buf) else { return };
    let parsed = match how % 3 {
        0 => slot_map_from_slots(&frame, "10.0.0.9"),
        1 => slot_map_from_shards(&frame, "10.0.0.9", false),
        _ => slot_map_from_shards(&frame, "10.0.0.9", true),
    };
    let Ok(mut map) = parsed else { return };
    check(&map);
    // What is left of the input: MOVED redirects, three bytes each.
    for moved in buf.chunks_exact(3) {
        let slot = u16::from_le_bytes([moved[0], moved[1]]);
        let node = NodeAddr::new("127.0.0.1", 7000 + u16::from(moved[2] % 8));
        let version = map.version();
        let changed = apply_moved(&mut map, slot, node.clone());
        if slot < SLOTS {
            assert_eq!(map.primary_for_slot(slot), Some(&node), "MOVED did not take effect");
        } else {
            assert!(!changed, "a MOVED for slot {slot} changed the map");
        }
        assert_eq!(map.version(), version + u64::from(changed));
    }
    check(&map);
});
