//! Recovery paths of the registry, driven step by step with a fake clock.

use super::*;
use crate::error::ServerError;
use crate::route::{Node, Shard};
use std::sync::Arc;

const MS: Duration = Duration::from_millis(1);

fn settings(cluster: bool) -> Settings {
    Settings {
        cluster,
        min_backoff: 10 * MS,
        max_backoff: 1000 * MS,
        refresh_interval: None,
        max_attempts: 3,
    }
}

fn names(list: &[&str]) -> Vec<Bytes> {
    list.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
}

fn sub(kind: Kind, name: &str) -> Subscription {
    Subscription::new(kind, Bytes::copy_from_slice(name.as_bytes()))
}

fn addr(port: u16) -> NodeAddr {
    NodeAddr::new("127.0.0.1", port)
}

fn node(port: u16) -> LinkId {
    LinkId::Node(addr(port))
}

/// A map where port 7001 owns slots 0-8191 and port 7002 owns 8192-16383.
fn two_shards() -> SlotMap {
    map(&[(7001, 0, 8191), (7002, 8192, 16383)])
}

fn map(owners: &[(u16, u16, u16)]) -> SlotMap {
    SlotMap::from_ranges(
        owners
            .iter()
            .map(|&(port, a, b)| {
                (Shard { primary: Node::from_addr(addr(port)), replicas: vec![] }, vec![(a, b)])
            })
            .collect(),
    )
    .unwrap()
}

fn moved(slot: u16, port: u16) -> Error {
    Error::Server(ServerError::from_line(&format!("MOVED {slot} 127.0.0.1:{port}")).unwrap())
}

fn server_error(line: &str) -> Error {
    Error::Server(ServerError::from_line(line).unwrap())
}

struct Sent {
    link: LinkId,
    gen: u64,
    op: u64,
    subscribe: bool,
    kind: Kind,
    names: Vec<Bytes>,
}

#[derive(Default)]
struct Taken {
    connects: Vec<(LinkId, u64)>,
    sends: Vec<Sent>,
    closes: Vec<(LinkId, u64)>,
    refreshes: usize,
    events: Vec<Event>,
    completes: Vec<(CallId, Result<(), Error>)>,
}

fn take(r: &mut Registry) -> Taken {
    let mut t = Taken::default();
    for a in r.take_actions() {
        match a {
            Action::Connect { link, gen } => t.connects.push((link, gen)),
            Action::Send { link, gen, op, subscribe, kind, names } => {
                t.sends.push(Sent { link, gen, op, subscribe, kind, names })
            }
            Action::Close { link, gen } => t.closes.push((link, gen)),
            Action::RefreshTopology => t.refreshes += 1,
            Action::Emit(e) => t.events.push(e),
            Action::Complete { call, result } => t.completes.push((call, result)),
        }
    }
    t
}

fn is_interrupted(e: &Event, expected: &[Subscription]) -> bool {
    matches!(e, Event::Interrupted { subscriptions, .. } if subscriptions == expected)
}

fn is_resubscribed(e: &Event, expected: &[Subscription]) -> bool {
    matches!(e, Event::Resubscribed { subscriptions } if subscriptions == expected)
}

/// Opens a standalone registry with the main link up; returns it and the main gen.
fn standalone(t0: Instant) -> (Registry, u64) {
    let mut r = Registry::new(settings(false), 42);
    let call = r.open(t0);
    let t = take(&mut r);
    assert_eq!(t.connects.len(), 1);
    let (link, gen) = t.connects[0].clone();
    assert_eq!(link, LinkId::Main);
    assert!(r.connected(&LinkId::Main, gen, Ok(()), t0));
    let t = take(&mut r);
    assert!(matches!(t.completes.as_slice(), [(c, Ok(()))] if *c == call));
    (r, gen)
}

/// Subscribes and confirms; asserts the call completes without any event.
fn subscribe_ok(r: &mut Registry, kind: Kind, list: &[&str], now: Instant) {
    let call = r.subscribe(kind, names(list), now);
    loop {
        let t = take(r);
        assert!(t.events.is_empty(), "a first subscribe emits no event");
        if let Some((_, result)) = t.completes.iter().find(|(c, _)| *c == call) {
            assert!(result.is_ok(), "{result:?}");
            return;
        }
        assert_eq!(t.sends.len(), 1, "one op at a time");
        let s = &t.sends[0];
        assert!(s.subscribe);
        r.op_done(&s.link, s.gen, s.op, Ok(()), now);
    }
}

#[test]
fn subscribe_completes_on_confirmation_and_emits_nothing() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    let call = r.subscribe(Kind::Channel, names(&["b", "a", "a"]), t0);
    let t = take(&mut r);
    assert!(t.completes.is_empty(), "not before the server confirms");
    assert_eq!(t.sends.len(), 1);
    let s = &t.sends[0];
    assert_eq!((s.link.clone(), s.gen, s.subscribe, s.kind), (LinkId::Main, gen, true, Kind::Channel));
    assert_eq!(s.names, names(&["a", "b"]), "deduplicated, in order");
    r.op_done(&LinkId::Main, gen, s.op, Ok(()), t0);
    let t = take(&mut r);
    assert!(t.events.is_empty());
    assert!(matches!(t.completes.as_slice(), [(c, Ok(()))] if *c == call));
    assert_eq!(r.active(), vec![sub(Kind::Channel, "a"), sub(Kind::Channel, "b")]);
    // Subscribing again to an active name completes at once, with nothing sent.
    let again = r.subscribe(Kind::Channel, names(&["a"]), t0);
    let t = take(&mut r);
    assert!(t.sends.is_empty());
    assert!(matches!(t.completes.as_slice(), [(c, Ok(()))] if *c == again));
}

#[test]
fn each_kind_is_its_own_command() {
    let t0 = Instant::now();
    let (mut r, _) = standalone(t0);
    let c1 = r.subscribe(Kind::Channel, names(&["c"]), t0);
    let c2 = r.subscribe(Kind::Pattern, names(&["p*"]), t0);
    let c3 = r.subscribe(Kind::Sharded, names(&["s1", "s2"]), t0);
    let mut kinds = Vec::new();
    let mut done = Vec::new();
    for _ in 0..10 {
        let t = take(&mut r);
        done.extend(t.completes.into_iter().map(|(c, res)| (c, res.is_ok())));
        for s in t.sends {
            kinds.push((s.kind, s.names.len()));
            r.op_done(&s.link, s.gen, s.op, Ok(()), t0);
        }
    }
    assert_eq!(kinds, vec![(Kind::Channel, 1), (Kind::Pattern, 1), (Kind::Sharded, 2)]);
    done.sort();
    assert_eq!(done, vec![(c1, true), (c2, true), (c3, true)]);
}

#[test]
fn a_lost_connection_interrupts_then_restores_with_one_event_each() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Channel, &["a"], t0);
    subscribe_ok(&mut r, Kind::Pattern, &["p*"], t0);
    let all = vec![sub(Kind::Channel, "a"), sub(Kind::Pattern, "p*")];

    let t1 = t0 + 100 * MS;
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), t1);
    let t = take(&mut r);
    assert_eq!(t.events.len(), 1);
    assert!(is_interrupted(&t.events[0], &all));
    assert!(t.connects.is_empty(), "the first retry waits the minimum backoff");
    assert_eq!(r.next_deadline(), Some(t1 + 10 * MS));
    assert!(r.active().is_empty());
    assert_eq!(r.subscriptions(), all, "still wanted");

    r.tick(t1 + 10 * MS);
    let t = take(&mut r);
    assert_eq!(t.connects.len(), 1);
    let gen2 = t.connects[0].1;
    assert!(gen2 != gen);
    // A late close of the old connection changes nothing.
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), t1 + 10 * MS);
    assert!(take(&mut r).events.is_empty());
    assert!(r.connected(&LinkId::Main, gen2, Ok(()), t1 + 20 * MS));
    let mut events = Vec::new();
    for _ in 0..4 {
        let t = take(&mut r);
        events.extend(t.events);
        for s in t.sends {
            r.op_done(&s.link, s.gen, s.op, Ok(()), t1 + 20 * MS);
        }
    }
    assert_eq!(events.len(), 2, "one Resubscribed per restored command: {events:?}");
    assert!(is_resubscribed(&events[0], &all[..1]));
    assert!(is_resubscribed(&events[1], &all[1..]));
    assert_eq!(r.active(), all);
    // A further quiet period: nothing more.
    r.tick(t1 + 10_000 * MS);
    let t = take(&mut r);
    assert!(t.events.is_empty() && t.connects.is_empty() && t.sends.is_empty());
}

#[test]
fn reconnect_backoff_grows_is_capped_and_resets_after_success() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Channel, &["a"], t0);
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), t0);
    take(&mut r);
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..20 {
        let at = r.next_deadline().expect("a retry is scheduled");
        waits.push(at - now);
        now = at;
        r.tick(now);
        let t = take(&mut r);
        assert_eq!(t.connects.len(), 1);
        r.connected(&LinkId::Main, t.connects[0].1, Err(Error::ConnectTimeout), now);
        let t = take(&mut r);
        assert!(t.events.is_empty(), "no repeated Interrupted while down");
    }
    assert_eq!(waits[0], 10 * MS);
    assert!(waits.iter().all(|w| *w >= 10 * MS && *w <= 1000 * MS), "{waits:?}");
    assert!(waits[10..].iter().any(|w| *w > 100 * MS), "the window grew: {waits:?}");
    // The subscription survived all of it, and comes back once a connect works.
    let at = r.next_deadline().unwrap();
    r.tick(at);
    let gen = take(&mut r).connects[0].1;
    r.connected(&LinkId::Main, gen, Ok(()), at);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen, s.op, Ok(()), at);
    let t = take(&mut r);
    assert!(is_resubscribed(&t.events[0], &[sub(Kind::Channel, "a")]));
    // Lost again: back to the minimum wait.
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), at);
    take(&mut r);
    assert_eq!(r.next_deadline(), Some(at + 10 * MS));
}

#[test]
fn a_first_subscribe_fails_when_the_server_is_unreachable_and_is_not_kept() {
    let t0 = Instant::now();
    let mut r = Registry::new(settings(false), 1);
    let call = r.subscribe(Kind::Channel, names(&["a"]), t0);
    let t = take(&mut r);
    let gen = t.connects[0].1;
    r.connected(&LinkId::Main, gen, Err(Error::ConnectTimeout), t0);
    let t = take(&mut r);
    assert!(matches!(t.completes.as_slice(), [(c, Err(Error::ConnectTimeout))] if *c == call));
    assert!(r.subscriptions().is_empty());
    assert_eq!(r.next_deadline(), None, "nothing left to reconnect for");
}

#[test]
fn a_subscribe_in_flight_when_the_connection_drops_fails_but_established_ones_stay() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Channel, &["old"], t0);
    let call = r.subscribe(Kind::Channel, names(&["new"]), t0);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen, s.op, Err(Error::Io(Arc::new(std::io::ErrorKind::BrokenPipe.into()))), t0);
    let t = take(&mut r);
    assert!(matches!(t.completes.as_slice(), [(c, Err(Error::OutcomeUnknown { .. }))] if *c == call));
    assert_eq!(t.closes, vec![(LinkId::Main, gen)], "the broken connection is closed");
    assert!(is_interrupted(&t.events[0], &[sub(Kind::Channel, "old")]));
    assert_eq!(r.subscriptions(), vec![sub(Kind::Channel, "old")]);
}

#[test]
fn refusals_fail_the_caller_or_drop_with_an_event() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    let call = r.subscribe(Kind::Channel, names(&["secret"]), t0);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen, s.op, Err(server_error("NOPERM no access")), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Err(Error::Server(_)))] if *c == call));
    assert!(t.events.is_empty());
    assert!(r.subscriptions().is_empty());

    // An established subscription refused on restore is dropped loudly.
    subscribe_ok(&mut r, Kind::Channel, &["a"], t0);
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), t0);
    take(&mut r);
    r.tick(t0 + 10 * MS);
    let gen2 = take(&mut r).connects[0].1;
    r.connected(&LinkId::Main, gen2, Ok(()), t0 + 10 * MS);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen2, s.op, Err(server_error("NOPERM no access")), t0 + 10 * MS);
    let t = take(&mut r);
    assert!(
        matches!(&t.events[..], [Event::Refused { subscriptions, .. }] if *subscriptions == vec![sub(Kind::Channel, "a")])
    );
    assert!(r.subscriptions().is_empty());
}

#[test]
fn transient_errors_retry_after_backoff() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    let call = r.subscribe(Kind::Channel, names(&["a"]), t0);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen, s.op, Err(server_error("LOADING still loading")), t0);
    let t = take(&mut r);
    assert!(t.sends.is_empty() && t.completes.is_empty());
    let at = r.next_deadline().unwrap();
    assert_eq!(at, t0 + 10 * MS);
    r.tick(at);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&LinkId::Main, gen, s.op, Ok(()), at);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == call));
}

#[test]
fn unsubscribe_waits_for_the_server_and_not_when_disconnected() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Pattern, &["x*", "y*"], t0);
    let call = r.unsubscribe(Kind::Pattern, names(&["x*"]), t0);
    let t = take(&mut r);
    assert!(t.completes.is_empty());
    let s = &t.sends[0];
    assert!(!s.subscribe);
    assert_eq!(s.names, names(&["x*"]));
    r.op_done(&LinkId::Main, gen, s.op, Ok(()), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == call));
    assert!(t.events.is_empty(), "an unsubscribe is no gap");
    assert_eq!(r.subscriptions(), vec![sub(Kind::Pattern, "y*")]);

    // While disconnected, nothing holds it: done at once, and not restored.
    r.closed(&LinkId::Main, gen, Arc::new(Error::Closed), t0);
    take(&mut r);
    let call = r.unsubscribe(Kind::Pattern, names(&["y*"]), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == call));
    assert_eq!(r.next_deadline(), None, "nothing to restore");
}

#[test]
fn unsubscribing_a_name_still_being_subscribed_fails_that_subscribe() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    let sub_call = r.subscribe(Kind::Channel, names(&["a"]), t0);
    let s = take(&mut r).sends.pop().unwrap();
    let unsub_call = r.unsubscribe(Kind::Channel, names(&["a"]), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Err(_))] if *c == sub_call));
    // The server confirms the subscribe; the registry then takes it back.
    r.op_done(&LinkId::Main, gen, s.op, Ok(()), t0);
    let t = take(&mut r);
    assert!(t.completes.is_empty(), "still held by the server");
    let u = &t.sends[0];
    assert!(!u.subscribe);
    r.op_done(&LinkId::Main, gen, u.op, Ok(()), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == unsub_call));
}

#[test]
fn close_fails_waiting_callers_and_closes_links() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    let call = r.subscribe(Kind::Channel, names(&["a"]), t0);
    take(&mut r);
    r.close();
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Err(Error::Closed))] if *c == call));
    assert_eq!(t.closes, vec![(LinkId::Main, gen)]);
}

// ----- cluster -----

/// Opens a cluster registry with the main link up and the two-shard map.
fn cluster(t0: Instant) -> Registry {
    let mut r = Registry::new(settings(true), 7);
    let call = r.open(t0);
    let t = take(&mut r);
    assert_eq!(t.refreshes, 1, "the slot map is fetched at open");
    let gen = t.connects[0].1;
    r.connected(&LinkId::Main, gen, Ok(()), t0);
    assert!(take(&mut r).completes.is_empty(), "open waits for the slot map");
    r.topology(Ok(two_shards()), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == call));
    r
}

fn owner_port(name: &str) -> u16 {
    if key_slot(name.as_bytes()) < 8192 {
        7001
    } else {
        7002
    }
}

/// Two names owned by different shards.
fn one_per_shard() -> (&'static str, &'static str) {
    let candidates = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let low = candidates.iter().find(|n| owner_port(n) == 7001).unwrap();
    let high = candidates.iter().find(|n| owner_port(n) == 7002).unwrap();
    (low, high)
}

/// Drives connects and sends to success until `call` completes.
fn run_until_complete(r: &mut Registry, call: CallId, now: Instant) -> (Result<(), Error>, Vec<Event>) {
    let mut events = Vec::new();
    for _ in 0..20 {
        let t = take(r);
        events.extend(t.events);
        if let Some((_, res)) = t.completes.into_iter().find(|(c, _)| *c == call) {
            return (res, events);
        }
        for (link, gen) in t.connects {
            r.connected(&link, gen, Ok(()), now);
        }
        for s in t.sends {
            r.op_done(&s.link, s.gen, s.op, Ok(()), now);
        }
    }
    panic!("the call never completed");
}

#[test]
fn sharded_channels_go_to_their_slot_owner_one_slot_per_command() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, high) = one_per_shard();
    let call = r.subscribe(Kind::Sharded, names(&[low, high]), t0);
    let t = take(&mut r);
    let mut links: Vec<LinkId> = t.connects.iter().map(|(l, _)| l.clone()).collect();
    links.sort();
    assert_eq!(links, vec![node(7001), node(7002)]);
    for (link, gen) in t.connects {
        r.connected(&link, gen, Ok(()), t0);
    }
    let t = take(&mut r);
    assert_eq!(t.sends.len(), 2);
    for s in &t.sends {
        assert_eq!(s.names.len(), 1, "one slot per SSUBSCRIBE");
        let name = std::str::from_utf8(&s.names[0]).unwrap();
        assert_eq!(s.link, node(owner_port(name)));
    }
    for s in t.sends {
        r.op_done(&s.link, s.gen, s.op, Ok(()), t0);
    }
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Ok(()))] if *c == call));
    // Classic channels stay on the main link.
    let call = r.subscribe(Kind::Channel, names(&[low]), t0);
    let t = take(&mut r);
    assert_eq!(t.sends[0].link, LinkId::Main);
    r.op_done(&LinkId::Main, t.sends[0].gen, t.sends[0].op, Ok(()), t0);
    assert!(take(&mut r).completes.iter().any(|(c, res)| *c == call && res.is_ok()));
}

#[test]
fn moved_on_a_first_subscribe_follows_the_redirect_silently() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, _) = one_per_shard();
    let slot = key_slot(low.as_bytes());
    let call = r.subscribe(Kind::Sharded, names(&[low]), t0);
    let t = take(&mut r);
    r.connected(&t.connects[0].0, t.connects[0].1, Ok(()), t0);
    let s = take(&mut r).sends.pop().unwrap();
    assert_eq!(s.link, node(7001));
    r.op_done(&s.link, s.gen, s.op, Err(moved(slot, 7003)), t0);
    let t = take(&mut r);
    assert_eq!(t.connects.len(), 1);
    assert_eq!(t.connects[0].0, node(7003));
    assert_eq!(t.refreshes, 0, "a refresh follows, after the minimum wait");
    assert!(t.events.is_empty());
    r.connected(&t.connects[0].0, t.connects[0].1, Ok(()), t0);
    let (res, events) = run_until_complete(&mut r, call, t0);
    assert!(res.is_ok());
    assert!(events.is_empty(), "no gap: it was never subscribed");
    assert_eq!(r.active(), vec![sub(Kind::Sharded, low)]);
}

#[test]
fn endless_redirects_give_up_for_a_first_subscribe() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, _) = one_per_shard();
    let slot = key_slot(low.as_bytes());
    let call = r.subscribe(Kind::Sharded, names(&[low]), t0);
    let mut ports = [7003u16, 7001].iter().cycle();
    for _ in 0..10 {
        let t = take(&mut r);
        if let Some((_, res)) = t.completes.iter().find(|(c, _)| *c == call) {
            assert!(matches!(res, Err(Error::RetriesExhausted { attempts: 3, .. })), "{res:?}");
            assert!(r.subscriptions().is_empty());
            return;
        }
        for (link, gen) in t.connects {
            r.connected(&link, gen, Ok(()), t0);
        }
        for s in take(&mut r).sends.into_iter().chain(t.sends) {
            r.op_done(&s.link, s.gen, s.op, Err(moved(slot, *ports.next().unwrap())), t0);
        }
    }
    panic!("never gave up");
}

#[test]
fn the_server_dropping_a_sharded_channel_refreshes_and_restores_on_the_new_owner() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, _) = one_per_shard();
    let call = r.subscribe(Kind::Sharded, names(&[low]), t0);
    assert!(run_until_complete(&mut r, call, t0).0.is_ok());
    let gen = {
        // The 7001 link's connection generation: re-send nothing, just learn it.
        let t1 = t0 + MS;
        r.tick(t1);
        take(&mut r);
        r.links.get(&node(7001)).and_then(Link::up_gen).unwrap()
    };
    // The slot migrates to 7003: 7001 says sunsubscribe by itself.
    let t1 = t0 + 50 * MS;
    r.server_unsubscribed(&node(7001), gen, sub(Kind::Sharded, low), t1);
    let t = take(&mut r);
    assert!(is_interrupted(&t.events[0], &[sub(Kind::Sharded, low)]));
    assert_eq!(t.refreshes, 1, "the new owner is looked up at once");
    assert_eq!(t.closes, vec![(node(7001), gen)], "nothing left on 7001");
    r.topology(Ok(map(&[(7003, 0, 8191), (7002, 8192, 16383)])), t1);
    let t = take(&mut r);
    assert_eq!(t.connects[0].0, node(7003));
    r.connected(&t.connects[0].0, t.connects[0].1, Ok(()), t1);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&s.link, s.gen, s.op, Ok(()), t1);
    let t = take(&mut r);
    assert_eq!(t.events.len(), 1);
    assert!(is_resubscribed(&t.events[0], &[sub(Kind::Sharded, low)]));
    // An unknown or repeated drop notice is ignored.
    r.server_unsubscribed(&node(7003), s.gen, sub(Kind::Sharded, "never"), t1);
    assert!(take(&mut r).events.is_empty());
}

#[test]
fn a_dead_primary_is_replaced_by_the_failed_over_one() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, high) = one_per_shard();
    let call = r.subscribe(Kind::Sharded, names(&[low, high]), t0);
    assert!(run_until_complete(&mut r, call, t0).0.is_ok());
    let gen = r.links.get(&node(7001)).and_then(Link::up_gen).unwrap();

    let t1 = t0 + 100 * MS;
    r.closed(&node(7001), gen, Arc::new(Error::Closed), t1);
    let t = take(&mut r);
    assert!(is_interrupted(&t.events[0], &[sub(Kind::Sharded, low)]), "only the dead shard's channel");
    let mut refreshes = t.refreshes;
    // For a while the dead node refuses connections and every lookup still
    // names it; the registry keeps trying both, quietly.
    let mut now = t1;
    let mut pending_refresh = refreshes > 0;
    while refreshes < 3 {
        if pending_refresh {
            r.topology(Ok(two_shards()), now);
        }
        now = r.next_deadline().expect("a retry is scheduled");
        r.tick(now);
        let t = take(&mut r);
        assert!(t.events.is_empty(), "no repeated events while down");
        for (link, gen) in t.connects {
            assert_eq!(link, node(7001));
            r.connected(&link, gen, Err(Error::ConnectTimeout), now);
        }
        let t2 = take(&mut r);
        assert!(t2.events.is_empty());
        refreshes += t.refreshes + t2.refreshes;
        pending_refresh = t.refreshes + t2.refreshes > 0;
    }
    // The next lookup says the replica on 7004 took over.
    assert!(pending_refresh);
    r.topology(Ok(map(&[(7004, 0, 8191), (7002, 8192, 16383)])), now);
    let t = take(&mut r);
    assert!(t.connects.iter().any(|(l, _)| *l == node(7004)));
    let mut events = t.events;
    for (link, gen) in t.connects {
        r.connected(&link, gen, Ok(()), now);
    }
    for _ in 0..3 {
        let t = take(&mut r);
        events.extend(t.events);
        for s in t.sends {
            assert_eq!(s.link, node(7004));
            r.op_done(&s.link, s.gen, s.op, Ok(()), now);
        }
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(is_resubscribed(&events[0], &[sub(Kind::Sharded, low)]));
    assert!(!r.links.contains_key(&node(7001)), "the dead node's link is gone");
    assert_eq!(r.active().len(), 2);
}

#[test]
fn a_topology_change_moves_active_subscriptions_with_a_gap_event() {
    let t0 = Instant::now();
    let mut r = cluster(t0);
    let (low, high) = one_per_shard();
    let call = r.subscribe(Kind::Sharded, names(&[low, high]), t0);
    assert!(run_until_complete(&mut r, call, t0).0.is_ok());
    let old_gen = r.links.get(&node(7001)).and_then(Link::up_gen).unwrap();
    // Same map again: nothing moves, nothing is said.
    r.topology(Ok(two_shards()), t0);
    let t = take(&mut r);
    assert!(t.events.is_empty() && t.sends.is_empty() && t.connects.is_empty());
    // Slots 0-8191 now on 7005.
    r.topology(Ok(map(&[(7005, 0, 8191), (7002, 8192, 16383)])), t0);
    let t = take(&mut r);
    assert!(is_interrupted(&t.events[0], &[sub(Kind::Sharded, low)]));
    // The old node is told to let go.
    let unsub = t.sends.iter().find(|s| s.link == node(7001)).expect("SUNSUBSCRIBE on the old owner");
    assert!(!unsub.subscribe);
    assert_eq!(unsub.gen, old_gen);
    r.op_done(&node(7001), old_gen, unsub.op, Ok(()), t0);
    for (link, gen) in t.connects {
        r.connected(&link, gen, Ok(()), t0);
    }
    let mut events = Vec::new();
    let mut closes = Vec::new();
    for _ in 0..3 {
        let t = take(&mut r);
        events.extend(t.events);
        closes.extend(t.closes);
        for s in t.sends {
            r.op_done(&s.link, s.gen, s.op, Ok(()), t0);
        }
    }
    assert!(closes.contains(&(node(7001), old_gen)));
    assert_eq!(events.len(), 1);
    assert!(is_resubscribed(&events[0], &[sub(Kind::Sharded, low)]));
}

#[test]
fn topology_failures_back_off_and_fail_callers_waiting_for_it() {
    let t0 = Instant::now();
    let mut r = Registry::new(settings(true), 3);
    let call = r.open(t0);
    let t = take(&mut r);
    r.connected(&LinkId::Main, t.connects[0].1, Ok(()), t0);
    r.topology(Err(Error::Other("no node answered".into())), t0);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Err(Error::Other(_)))] if *c == call));
    // A sharded subscribe needs the map: it asks again, after the backoff.
    let call = r.subscribe(Kind::Sharded, names(&["x"]), t0);
    let t = take(&mut r);
    assert_eq!(t.refreshes, 0);
    let at = r.next_deadline().unwrap();
    assert!(at > t0);
    r.tick(at);
    assert_eq!(take(&mut r).refreshes, 1);
    r.topology(Err(Error::Other("still nothing".into())), at);
    let t = take(&mut r);
    assert!(matches!(&t.completes[..], [(c, Err(_))] if *c == call));
}

#[test]
fn periodic_refresh_when_configured() {
    let t0 = Instant::now();
    let mut s = settings(true);
    s.refresh_interval = Some(Duration::from_secs(30));
    let mut r = Registry::new(s, 9);
    r.open(t0);
    let t = take(&mut r);
    r.connected(&LinkId::Main, t.connects[0].1, Ok(()), t0);
    r.topology(Ok(two_shards()), t0);
    take(&mut r);
    assert_eq!(r.next_deadline(), Some(t0 + Duration::from_secs(30)));
    r.tick(t0 + Duration::from_secs(30));
    assert_eq!(take(&mut r).refreshes, 1);
}

/// Found by the `registry` fuzz target: subscribing again while our own
/// unsubscribe of the name was in flight completed at once (the old
/// confirmation still counted), then the unsubscribe landed and the name
/// was silently not subscribed until the registry noticed.
#[test]
fn subscribing_again_during_an_unsubscribe_waits_for_a_new_confirmation() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Channel, &["a"], t0);
    let unsub = r.unsubscribe(Kind::Channel, names(&["a"]), t0);
    let t = take(&mut r);
    assert_eq!(t.sends.len(), 1);
    let u = &t.sends[0];
    assert!(!u.subscribe);
    let again = r.subscribe(Kind::Channel, names(&["a"]), t0);
    let t = take(&mut r);
    assert!(t.completes.iter().all(|(c, _)| *c != again), "not before the server confirms again");
    assert!(t.completes.iter().any(|(c, res)| *c == unsub && res.is_ok()), "wanted again: done");
    assert!(r.active().is_empty(), "being unsubscribed is not active");
    r.op_done(&LinkId::Main, gen, u.op, Ok(()), t0);
    let t = take(&mut r);
    assert!(t.events.is_empty(), "the name was never active for this subscribe: {:?}", t.events);
    assert_eq!(t.sends.len(), 1, "subscribed again");
    assert!(t.sends[0].subscribe);
    r.op_done(&LinkId::Main, gen, t.sends[0].op, Ok(()), t0);
    let t = take(&mut r);
    assert!(t.completes.iter().any(|(c, res)| *c == again && res.is_ok()));
    assert_eq!(r.active(), vec![sub(Kind::Channel, "a")]);
}

/// Found by the `registry` fuzz target: a sharded channel moved back to a
/// node whose connection still held it (its unsubscribe never sent) was
/// active again but never reported `Resubscribed`.
#[test]
fn moving_back_to_a_node_that_still_holds_it_resubscribes_at_once() {
    let t0 = Instant::now();
    let mut r = Registry::new(settings(true), 42);
    r.open(t0);
    let t = take(&mut r);
    let main = t.connects[0].1;
    r.connected(&LinkId::Main, main, Ok(()), t0);
    r.topology(Ok(two_shards()), t0);
    take(&mut r);
    // "a" hashes to slot 15495: port 7002.
    let call = r.subscribe(Kind::Sharded, names(&["a"]), t0);
    let t = take(&mut r);
    let (link, gen) = t.connects[0].clone();
    assert_eq!(link, node(7002));
    r.connected(&link, gen, Ok(()), t0);
    let s = take(&mut r).sends.pop().unwrap();
    r.op_done(&link, gen, s.op, Ok(()), t0);
    assert!(take(&mut r).completes.iter().any(|(c, res)| *c == call && res.is_ok()));
    // "d" (slot 11298, 7002 too) keeps 7002's connection busy: its op stays in flight.
    r.subscribe(Kind::Sharded, names(&["d"]), t0);
    assert_eq!(take(&mut r).sends.len(), 1);
    // A refresh moves the slots to 7001, and back before 7002's unsubscribe is sent.
    r.topology(Ok(map(&[(7001, 0, 16383)])), t0);
    let t = take(&mut r);
    assert!(is_interrupted(&t.events[0], &[sub(Kind::Sharded, "a")]));
    r.topology(Ok(two_shards()), t0 + 20 * MS);
    let t = take(&mut r);
    assert_eq!(t.events.len(), 1, "{:?}", t.events);
    assert!(is_resubscribed(&t.events[0], &[sub(Kind::Sharded, "a")]));
    assert_eq!(r.active(), vec![sub(Kind::Sharded, "a")]);
}

/// Found by the `registry` fuzz target: the connection failing under our
/// unsubscribe of a name wanted again reported that name `Interrupted`,
/// though it was not active (it was being unsubscribed).
#[test]
fn a_failed_unsubscribe_of_a_name_wanted_again_is_no_interruption() {
    let t0 = Instant::now();
    let (mut r, gen) = standalone(t0);
    subscribe_ok(&mut r, Kind::Channel, &["a"], t0);
    r.unsubscribe(Kind::Channel, names(&["a"]), t0);
    let u = take(&mut r).sends.pop().unwrap();
    r.subscribe(Kind::Channel, names(&["a"]), t0);
    take(&mut r);
    r.op_done(&LinkId::Main, gen, u.op, Err(Error::OutcomeUnknown { cause: Arc::new(Error::Timeout) }), t0);
    let t = take(&mut r);
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert_eq!(t.closes, vec![(LinkId::Main, gen)]);
    assert_eq!(r.subscriptions(), vec![sub(Kind::Channel, "a")], "still wanted");
}
