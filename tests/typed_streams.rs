//! The typed stream and geo groups against real Valkey: standalone over
//! RESP2 and RESP3, and the 6-node cluster, one suite run unchanged on each.
//! Every method is called and its reply checked against data read back;
//! blocking `XREAD`/`XREADGROUP` are shown to wait on their own connection
//! while the client keeps serving other commands.

mod support;
mod typed_b;

use std::time::Duration;

use bytes::Bytes;
use redwire::commands::*;
use redwire::{AnyClient, Error};
use typed_b::{start, Target, Topology};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Keys in one slot (hash tag) so multi-key commands run on the cluster too.
fn k(name: &str) -> String {
    format!("{{t}}:{name}")
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
    pairs.iter().map(|(f, v)| (b(f), b(v))).collect()
}

async fn streams_basic(t: &Target) {
    let c = &t.client;
    let s = k("s");
    assert_eq!(c.xadd(&s, "1-1", [("f", "v1")]).await.unwrap(), b("1-1"));
    assert_eq!(c.xadd(&s, "2-1", [("f", "v2"), ("g", "w2")]).await.unwrap(), b("2-1"));
    let auto = c.xadd(&s, "*", [("f", "v3")]).await.unwrap();
    let ms: u64 =
        std::str::from_utf8(&auto).ok().and_then(|id| id.split('-').next()?.parse().ok()).expect("ms-seq");
    assert!(ms > 2, "a generated id is above the last one: {auto:?}");
    assert!(matches!(c.xadd(&s, "1-0", [("f", "old")]).await, Err(Error::Server(_))));
    assert_eq!(c.xlen(&s).await.unwrap(), 3);

    let all = c.xrange(&s, "-", "+", None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], StreamEntry { id: b("2-1"), fields: fields(&[("f", "v2"), ("g", "w2")]) });
    assert_eq!(all[1].get(b"g"), Some(&b("w2")));
    assert_eq!(all[2].id, auto);
    let first = c.xrange(&s, "-", "+", Some(1)).await.unwrap();
    assert_eq!(first.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![b("1-1")]);
    let back = c.xrevrange(&s, "+", "-", Some(2)).await.unwrap();
    assert_eq!(back.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![auto.clone(), b("2-1")]);
    assert_eq!(c.xrevrange(&s, "2-1", "(1-1", None).await.unwrap().len(), 1);

    assert_eq!(c.xdel(&s, ["2-1", "9-9"]).await.unwrap(), 1);
    assert_eq!(c.xlen(&s).await.unwrap(), 2);

    // NOMKSTREAM on a missing stream: no id, no stream.
    let opts = XAddOptions { nomkstream: true, trim: None };
    assert_eq!(c.xadd_with(k("nostream"), "*", [("f", "v")], &opts).await.unwrap(), None);
    assert_eq!(c.xlen(k("nostream")).await.unwrap(), 0);
    // Exact MAXLEN while adding.
    let trimmed = k("trimmed");
    for i in 1..=5 {
        c.xadd(&trimmed, format!("{i}-0"), [("n", i)]).await.unwrap();
    }
    let opts = XAddOptions { nomkstream: true, trim: Some(StreamTrim::maxlen(3)) };
    assert_eq!(c.xadd_with(&trimmed, "6-0", [("n", "6")], &opts).await.unwrap(), Some(b("6-0")));
    let ids: Vec<Bytes> =
        c.xrange(&trimmed, "-", "+", None).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![b("4-0"), b("5-0"), b("6-0")]);
    // Approximate with LIMIT is accepted (it may trim nothing on a small stream).
    let opts = XAddOptions { nomkstream: false, trim: Some(StreamTrim::maxlen(1).approximate().limit(10)) };
    assert_eq!(c.xadd_with(&trimmed, "7-0", [("n", "7")], &opts).await.unwrap(), Some(b("7-0")));
    let len = c.xlen(&trimmed).await.unwrap();
    assert!((1..=4).contains(&len), "{len}");
    assert_eq!(c.xtrim(&trimmed, &StreamTrim::minid("7-0")).await.unwrap(), len - 1);
    assert_eq!(c.xtrim(&trimmed, &StreamTrim::maxlen(0)).await.unwrap(), 1);
    assert_eq!(c.xlen(&trimmed).await.unwrap(), 0);

    // XREAD over two streams, with COUNT, and nothing new after the last ids.
    let s2 = k("s2");
    c.xadd(&s2, "5-0", [("x", "y")]).await.unwrap();
    let read =
        c.xread(&[(&s, "0"), (&s2, "0")], &XReadOptions { count: Some(1), block: None }).await.unwrap();
    assert_eq!(read.0.len(), 2);
    assert_eq!(read.entries(s.as_bytes()).len(), 1);
    assert_eq!(read.entries(s.as_bytes())[0].id, b("1-1"));
    assert_eq!(read.entries(s2.as_bytes())[0].fields, fields(&[("x", "y")]));
    let nothing = c.xread(&[(&s2, "5-0")], &XReadOptions::default()).await.unwrap();
    assert!(nothing.is_empty(), "{nothing:?}");
    let timed_out = c
        .xread(&[(&s2, "$")], &XReadOptions { count: None, block: Some(Duration::from_millis(100)) })
        .await
        .unwrap();
    assert!(timed_out.is_empty());

    blocking_read_waits_aside(c).await;
}

/// XREAD BLOCK parks on an exclusive connection; the client's other commands
/// keep flowing, and the read returns the entry another task adds.
async fn blocking_read_waits_aside(c: &AnyClient) {
    let s = k("live");
    c.xadd(&s, "1-0", [("old", "1")]).await.unwrap();
    let reader = {
        let c = c.clone();
        let s = s.clone();
        tokio::spawn(async move {
            c.xread(&[(s, "$")], &XReadOptions { count: None, block: Some(Duration::from_secs(20)) }).await
        })
    };
    for _ in 0..30 {
        assert_eq!(c.xlen(&s).await.unwrap(), 1);
    }
    assert!(!reader.is_finished(), "nothing new yet: the read must still wait");
    let writer = {
        let c = c.clone();
        let s = s.clone();
        tokio::spawn(async move { c.xadd(s, "2-0", [("new", "2")]).await })
    };
    assert_eq!(writer.await.unwrap().unwrap(), b("2-0"));
    let read =
        tokio::time::timeout(Duration::from_secs(10), reader).await.expect("read returns").unwrap().unwrap();
    let entries = read.entries(s.as_bytes());
    assert_eq!(entries, [StreamEntry { id: b("2-0"), fields: fields(&[("new", "2")]) }]);
}

async fn stream_groups(t: &Target) {
    let c = &t.client;
    let s = k("jobs");
    assert!(
        matches!(c.xgroup_create(&s, "g", "$", false).await, Err(Error::Server(_))),
        "no stream, no MKSTREAM"
    );
    c.xgroup_create(&s, "g", "$", true).await.unwrap();
    assert!(matches!(c.xgroup_create(&s, "g", "$", false).await, Err(Error::Server(_))), "BUSYGROUP");
    assert!(c.xgroup_createconsumer(&s, "g", "alice").await.unwrap());
    assert!(!c.xgroup_createconsumer(&s, "g", "alice").await.unwrap());
    for i in 1..=4 {
        c.xadd(&s, format!("{i}-0"), [("job", i)]).await.unwrap();
    }

    let opts = XReadGroupOptions { count: Some(3), ..XReadGroupOptions::default() };
    let got = c.xreadgroup("g", "alice", &[(&s, ">")], &opts).await.unwrap();
    let ids: Vec<Bytes> = got.entries(s.as_bytes()).iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, vec![b("1-0"), b("2-0"), b("3-0")]);
    assert_eq!(got.entries(s.as_bytes())[0].get(b"job"), Some(&b("1")));

    let summary = c.xpending(&s, "g").await.unwrap();
    assert_eq!(summary.count, 3);
    assert_eq!((summary.min_id, summary.max_id), (Some(b("1-0")), Some(b("3-0"))));
    assert_eq!(summary.consumers, vec![(b("alice"), 3)]);
    let empty = c.xpending(&s, "nobody-here").await;
    assert!(matches!(empty, Err(Error::Server(_))), "{empty:?}");

    let pending =
        c.xpending_range(&s, "g", &PendingRange::new("-", "+", 10).consumer("alice")).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert_eq!(
        (pending[0].id.clone(), pending[0].consumer.clone(), pending[0].deliveries),
        (b("1-0"), b("alice"), 1)
    );
    let idle = PendingRange::new("-", "+", 10).idle(Duration::from_secs(3600));
    assert!(c.xpending_range(&s, "g", &idle).await.unwrap().is_empty());

    assert_eq!(c.xack(&s, "g", ["1-0", "9-0"]).await.unwrap(), 1);
    assert_eq!(c.xpending(&s, "g").await.unwrap().count, 2);

    // bob claims 2-0; then 3-0 by id only; XAUTOCLAIM moves the rest back to alice.
    let claimed = c.xclaim(&s, "g", "bob", Duration::ZERO, ["2-0"]).await.unwrap();
    assert_eq!(claimed, vec![StreamEntry { id: b("2-0"), fields: fields(&[("job", "2")]) }]);
    assert_eq!(c.xclaim_justid(&s, "g", "bob", Duration::ZERO, ["3-0"]).await.unwrap(), vec![b("3-0")]);
    let by_bob = c.xpending_range(&s, "g", &PendingRange::new("-", "+", 10).consumer("bob")).await.unwrap();
    assert_eq!(by_bob.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![b("2-0"), b("3-0")]);
    assert_eq!(by_bob[0].deliveries, 2, "XCLAIM counts a delivery");
    assert_eq!(by_bob[1].deliveries, 1, "JUSTID does not");

    c.xdel(&s, ["3-0"]).await.unwrap();
    let auto = c.xautoclaim(&s, "g", "alice", Duration::ZERO, "0-0", 10).await.unwrap();
    assert_eq!(auto.next, b("0-0"));
    assert_eq!(auto.claimed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![b("2-0")]);
    assert_eq!(auto.deleted, vec![b("3-0")]);

    // Alice's history (id 0) lists what she holds.
    let history = c.xreadgroup("g", "alice", &[(&s, "0")], &XReadGroupOptions::default()).await.unwrap();
    assert_eq!(
        history.entries(s.as_bytes()).iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![b("2-0")]
    );

    let info = c.xinfo_stream(&s).await.unwrap();
    assert_eq!((info.length, info.groups), (3, 1));
    assert_eq!(info.last_generated_id, b("4-0"));
    assert_eq!(info.first_entry.map(|e| e.id), Some(b("1-0")));
    assert_eq!(info.last_entry.map(|e| e.fields), Some(fields(&[("job", "4")])));
    assert_eq!(info.entries_added, Some(4));
    assert_eq!(info.max_deleted_entry_id, Some(b("3-0")));
    let groups = c.xinfo_groups(&s).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].name.clone(), groups[0].consumers, groups[0].pending), (b("g"), 2, 1));
    assert_eq!(groups[0].last_delivered_id, b("3-0"));
    let mut consumers = c.xinfo_consumers(&s, "g").await.unwrap();
    consumers.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(
        consumers.iter().map(|x| (x.name.clone(), x.pending)).collect::<Vec<_>>(),
        vec![(b("alice"), 1), (b("bob"), 0)]
    );
    assert!(consumers[0].inactive_ms.is_some(), "alice has read");

    // SETID back to the start: everything is new again for the group.
    c.xgroup_setid(&s, "g", "0").await.unwrap();
    assert_eq!(c.xinfo_groups(&s).await.unwrap()[0].last_delivered_id, b("0-0"));
    let again = c
        .xreadgroup("g", "carol", &[(&s, ">")], &XReadGroupOptions { noack: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(again.entries(s.as_bytes()).len(), 3);
    assert_eq!(c.xpending(&s, "g").await.unwrap().count, 1, "NOACK adds nothing to the PEL");

    // A blocking XREADGROUP waits aside and gets the next entry.
    let reader = {
        let c = c.clone();
        let s = s.clone();
        tokio::spawn(async move {
            let opts = XReadGroupOptions { block: Some(Duration::from_secs(20)), ..Default::default() };
            c.xreadgroup("g", "dave", &[(s, ">")], &opts).await
        })
    };
    assert_eq!(c.xlen(&s).await.unwrap(), 3);
    assert!(!reader.is_finished());
    c.xadd(&s, "5-0", [("job", "5")]).await.unwrap();
    let read =
        tokio::time::timeout(Duration::from_secs(10), reader).await.expect("read returns").unwrap().unwrap();
    assert_eq!(read.entries(s.as_bytes()).iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![b("5-0")]);
    let timed_out = c
        .xreadgroup(
            "g",
            "dave",
            &[(&s, ">")],
            &XReadGroupOptions { block: Some(Duration::from_millis(100)), ..Default::default() },
        )
        .await
        .unwrap();
    assert!(timed_out.is_empty());

    assert_eq!(c.xgroup_delconsumer(&s, "g", "alice").await.unwrap(), 1);
    assert_eq!(c.xgroup_delconsumer(&s, "g", "dave").await.unwrap(), 1);
    assert!(c.xgroup_destroy(&s, "g").await.unwrap());
    assert!(!c.xgroup_destroy(&s, "g").await.unwrap());
    assert!(c.xinfo_groups(&s).await.unwrap().is_empty());
}

async fn geo(t: &Target) {
    let c = &t.client;
    let g = k("sicily");
    let cities = [(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")];
    assert_eq!(c.geoadd(&g, cities, &GeoAddOptions::new()).await.unwrap(), 2);
    assert_eq!(c.geoadd(&g, [(12.0, 37.0, "Palermo")], &GeoAddOptions::new().nx()).await.unwrap(), 0);
    assert_eq!(c.geoadd(&g, [(12.0, 37.0, "Nowhere")], &GeoAddOptions::new().xx()).await.unwrap(), 0);
    assert_eq!(
        c.geoadd(&g, [(13.583333, 37.316667, "Agrigento")], &GeoAddOptions::new().ch()).await.unwrap(),
        1
    );

    let pos = c.geopos(&g, ["Palermo", "Nowhere"]).await.unwrap();
    let (lon, lat) = pos[0].expect("Palermo has a position");
    assert!((lon - 13.361389).abs() < 1e-4 && (lat - 38.115556).abs() < 1e-4, "{lon} {lat}");
    assert_eq!(pos[1], None);

    let km = c.geodist(&g, "Palermo", "Catania", GeoUnit::Kilometers).await.unwrap().expect("distance");
    assert!((km - 166.27).abs() < 0.1, "{km}");
    let m = c.geodist(&g, "Palermo", "Catania", GeoUnit::Meters).await.unwrap().expect("distance");
    assert!((m / 1000.0 - km).abs() < 0.01);
    assert_eq!(c.geodist(&g, "Palermo", "Nowhere", GeoUnit::Miles).await.unwrap(), None);
    let hashes = c.geohash(&g, ["Palermo", "Nowhere"]).await.unwrap();
    assert_eq!(hashes, vec![Some("sqc8b49rny0".to_string()), None]);

    let from = GeoFrom::LonLat(15.0, 37.0);
    let shape = GeoShape::Radius(200.0, GeoUnit::Kilometers);
    let opts = GeoSearchOptions::new().order(GeoOrder::Asc).with_dist().with_coord().with_hash();
    let found = c.geosearch(&g, &from, &shape, &opts).await.unwrap();
    let names: Vec<Bytes> = found.iter().map(|m| m.member.clone()).collect();
    assert_eq!(names, vec![b("Catania"), b("Agrigento"), b("Palermo")]);
    let catania = &found[0];
    assert!(catania.dist.is_some_and(|d| (d - 56.44).abs() < 0.1), "{catania:?}");
    assert!(catania.coord.is_some_and(|(lon, _)| (lon - 15.087269).abs() < 1e-4));
    assert!(catania.hash.is_some_and(|h| h > 0));
    let bare = c
        .geosearch(&g, &from, &shape, &GeoSearchOptions::new().order(GeoOrder::Desc).count(1))
        .await
        .unwrap();
    assert_eq!(bare, vec![GeoMatch { member: b("Palermo"), dist: None, hash: None, coord: None }]);
    let any = c.geosearch(&g, &from, &shape, &GeoSearchOptions::new().count_any(2)).await.unwrap();
    assert_eq!(any.len(), 2);
    let around = GeoFrom::Member(b("Palermo"));
    let boxed = GeoShape::Box(400.0, 400.0, GeoUnit::Kilometers);
    let near = c
        .geosearch(&g, &around, &boxed, &GeoSearchOptions::new().order(GeoOrder::Asc).with_dist())
        .await
        .unwrap();
    assert_eq!(near.first().map(|m| (m.member.clone(), m.dist)), Some((b("Palermo"), Some(0.0))));
    assert_eq!(near.len(), 3);
    let missing = c.geosearch(&g, &GeoFrom::Member(b("Nowhere")), &boxed, &GeoSearchOptions::new()).await;
    assert!(matches!(missing, Err(Error::Server(_))), "{missing:?}");

    let dst = k("near");
    let stored = c
        .geosearchstore(&dst, &g, &from, &shape, &GeoSearchOptions::new().order(GeoOrder::Asc).count(2), true)
        .await
        .unwrap();
    assert_eq!(stored, 2);
    let with_dist = c.zrange_withscores(&dst, &ZRange::by_index(0, -1)).await.unwrap();
    assert_eq!(
        with_dist.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        vec![b("Catania"), b("Agrigento")]
    );
    assert!((with_dist[0].1 - 56.44).abs() < 0.1, "STOREDIST stores distances: {with_dist:?}");
    assert_eq!(c.geosearchstore(&dst, &g, &from, &shape, &GeoSearchOptions::new(), false).await.unwrap(), 3);
    let pos = c.geopos(&dst, ["Palermo"]).await.unwrap();
    assert!(
        pos[0].is_some_and(|(lon, _)| (lon - 13.361389).abs() < 1e-4),
        "without STOREDIST a geo set: {pos:?}"
    );
}

async fn suite(topology: Topology) {
    let t = start(topology).await;
    streams_basic(&t).await;
    stream_groups(&t).await;
    geo(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_geo_on_standalone_resp2() {
    suite(Topology::Resp2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_geo_on_standalone_resp3() {
    suite(Topology::Resp3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_geo_on_cluster() {
    suite(Topology::Cluster).await;
}
