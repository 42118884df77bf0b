//! The `RedisSentinel` variant against real Valkey: 1 master + 1 replica + 3 sentinels
//! (`support::SentinelGroup`), the data and sentinel users each with their own password.
//!
//! - `store_pubsub_and_errors`: a store from config JSON works on the master (and its writes reach
//!   the replica), pub/sub goes through, and the failures a user can cause (unknown service,
//!   wrong sentinel password) are clear errors that hide the secrets.
//! - `kill_drill`: SIGKILL the master under store load (several tasks writing and reading back
//!   their own keys) with a subscriber listening. Shown: no wrong answer (every read returns a
//!   value written to that key), errors only for writes in flight at the kill (outcome unknown),
//!   operations back within a bound after the sentinels promote the replica, and the subscriber
//!   resubscribed. Prints the times: kill to promotion, promotion to first successful write.
//!
//! The store suite (`tests/store.rs`) also runs on this variant.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redwire::config::parse;
use redwire::pubsub::{Event, Publisher, Servers, Subscriber, SubscriberOptions};
use redwire::sentinel::SentinelClient;
use redwire::{Error, Store, StoreKind};
use support::sentinel::{DATA_USER, SENTINEL_USER};
use support::SentinelGroup;

async fn open(json: &str) -> Result<Store, Error> {
    let config = parse(json).unwrap_or_else(|e| panic!("config does not parse:\n{e}"));
    Store::from_config(&config).await
}

async fn start_group() -> SentinelGroup {
    tokio::task::spawn_blocking(SentinelGroup::start).await.expect("start the sentinel group")
}

fn servers(json: &str) -> Servers {
    let config = parse(json).expect("config parses");
    Servers::from_config(&config).expect("pub/sub servers from the config")
}

/// The next message on `channel`, skipping other events; panics after `within`.
async fn next_message(subscriber: &Subscriber, within: Duration) -> Bytes {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, subscriber.recv()).await {
            Ok(Some(Event::Message(m))) => return m.payload,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the subscriber closed"),
            Err(_) => panic!("no message within {within:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_pubsub_and_errors() {
    let group = start_group().await;
    let json = group.store_json("5s");
    let store = open(&json).await.expect("open the sentinel store");
    assert_eq!(store.kind(), StoreKind::RedisSentinel);
    let shown = format!("{store:?}");
    assert!(!shown.contains(DATA_USER.1) && !shown.contains(SENTINEL_USER.1), "{shown}");

    store.key_set(b"sentinel:k", Bytes::from_static(b"v1"), None).await.unwrap();
    assert_eq!(store.key_get(b"sentinel:k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(store.counter_incr(b"sentinel:n", 5, Some(Duration::from_secs(60))).await.unwrap(), 5);
    let token = store.try_lock(b"sentinel:lock", Duration::from_secs(30)).await.unwrap().expect("lock free");
    assert!(store.try_lock(b"sentinel:lock", Duration::from_secs(30)).await.unwrap().is_none());
    assert!(store.remove_lock(b"sentinel:lock", &token).await.unwrap());
    // On the master, and replicated.
    let master = group.node_on(group.master_port().expect("a master")).expect("the master is ours");
    assert_eq!(master.client().cmd_text(&["GET", "sentinel:k"]), "v1");
    let replica = group.nodes().iter().find(|n| n.port() != master.port()).expect("a replica");
    let deadline = Instant::now() + Duration::from_secs(10);
    while replica.client().cmd(&["GET", "sentinel:k"]).as_text().as_deref() != Some("v1") {
        assert!(Instant::now() < deadline, "the write never reached the replica");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Pub/sub through the same configuration.
    let subscriber = Subscriber::connect(servers(&json), SubscriberOptions::default()).await.unwrap();
    subscriber.subscribe(["sentinel:news"]).await.unwrap();
    let publisher = Publisher::connect(servers(&json)).await.unwrap();
    assert_eq!(publisher.publish("sentinel:news", "hello").await.unwrap(), 1);
    assert_eq!(next_message(&subscriber, Duration::from_secs(5)).await, "hello");

    // An unknown service name is a configuration error naming the field.
    let unknown = json.replace("\"mymaster\"", "\"nosuchmaster\"");
    let e = open(&unknown).await.unwrap_err();
    assert!(matches!(&e, Error::Config(m) if m.contains("nosuchmaster") && m.contains("serviceName")), "{e}");
    // A wrong sentinel password is an authentication error, without the password.
    let wrong = json.replace(SENTINEL_USER.1, "not-the-sentinel-pw");
    let e = open(&wrong).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(matches!(e, Error::Auth(_)), "{shown}");
    assert!(!shown.contains("not-the-sentinel-pw") && !shown.contains(DATA_USER.1), "{shown}");
    // A wrong data password: the sentinels answer, the master refuses.
    let wrong = json.replace(DATA_USER.1, "not-the-data-pw");
    let e = open(&wrong).await.unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e}");
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    writes_ok: u64,
    reads_ok: u64,
    /// Reads that returned an older version than the last acknowledged write: acknowledged
    /// writes the replica had not received when the master died (replication is asynchronous).
    stale_reads: u64,
    /// Reads of a value never written to that key, or of a version never sent: must stay 0.
    wrong: Vec<String>,
    /// Errors, as (operation, error).
    errors: Vec<(&'static str, Error)>,
    /// When each successful write completed.
    write_times: Vec<Instant>,
}

/// One task: writes `k{task}:{i}` = `k{task}:{i}:v{n}` with growing `n`, reading each back.
async fn load(store: Store, task: usize, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    let keys = 16usize;
    let mut last_acked: HashMap<usize, u64> = HashMap::new();
    let mut max_sent: HashMap<usize, u64> = HashMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let i = (n as usize) % keys;
        let key = format!("drill:k{task}:{i}");
        let value = format!("{key}:v{n}");
        max_sent.insert(i, n);
        match store.key_set(key.as_bytes(), Bytes::from(value), None).await {
            Ok(()) => {
                last_acked.insert(i, n);
                let mut t = tally.lock().unwrap();
                t.writes_ok += 1;
                t.write_times.push(Instant::now());
            }
            Err(e) => tally.lock().unwrap().errors.push(("key_set", e)),
        }
        match store.key_get(key.as_bytes()).await {
            Ok(read) => {
                let mut t = tally.lock().unwrap();
                t.reads_ok += 1;
                let version = read.as_deref().and_then(|v| {
                    let text = std::str::from_utf8(v).ok()?;
                    text.strip_prefix(&format!("{key}:v"))?.parse::<u64>().ok()
                });
                match (read, version) {
                    (None, _) if !last_acked.contains_key(&i) => {}
                    // A first write lost with the master: the key is gone.
                    (None, _) => t.stale_reads += 1,
                    (Some(v), None) => t.wrong.push(format!("{key}: read {v:?}")),
                    (Some(_), Some(version)) => {
                        if version > max_sent[&i] {
                            t.wrong.push(format!("{key}: read v{version}, never sent"));
                        } else if version < last_acked.get(&i).copied().unwrap_or(0) {
                            t.stale_reads += 1;
                        }
                    }
                }
            }
            Err(e) => tally.lock().unwrap().errors.push(("key_get", e)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_drill() {
    const TASKS: usize = 6;
    let group = Arc::new(start_group().await);
    let json = group.store_json("5s");
    let store = open(&json).await.expect("open the sentinel store");
    let subscriber = Subscriber::connect(servers(&json), SubscriberOptions::default()).await.unwrap();
    subscriber.subscribe(["drill:news"]).await.unwrap();
    let publisher = Publisher::connect(servers(&json)).await.unwrap();
    // A client that sends nothing: only the +switch-master subscription can move it.
    let sentinel_options = servers(&json).sentinel_options().expect("sentinel settings").as_ref().clone();
    let idle = SentinelClient::connect(sentinel_options).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks: Vec<_> =
        (0..TASKS).map(|task| tokio::spawn(load(store.clone(), task, stop.clone(), tally.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = tally.lock().unwrap().writes_ok;
    assert!(before > 0, "no write went through before the kill");

    let old = group.master_port().expect("a master");
    let killed_at = Instant::now();
    group.node_on(old).expect("the master is ours").kill();
    let watcher = group.clone();
    let new = tokio::task::spawn_blocking(move || watcher.wait_for_new_master(old, Duration::from_secs(30)))
        .await
        .unwrap();
    let promoted_at = Instant::now();
    assert_ne!(new, old);
    assert_eq!(idle.master_addr().port, old);

    // Load goes on until writes succeed on the new master, then a little longer.
    let deadline = promoted_at + Duration::from_secs(30);
    while tally.lock().unwrap().write_times.last().is_none_or(|t| *t <= promoted_at) {
        assert!(Instant::now() < deadline, "no write succeeded within 30 s of the promotion");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }

    // The idle client followed the announcement.
    let deadline = Instant::now() + Duration::from_secs(10);
    while idle.master_addr().port != new {
        assert!(Instant::now() < deadline, "the idle client missed +switch-master");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(idle.switches(), 1);

    // The subscriber lost its master and came back on the new one.
    let mut interrupted = false;
    let resubscribed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = subscriber.recv().await {
            match event {
                Event::Interrupted { .. } => interrupted = true,
                Event::Resubscribed { .. } if interrupted => return true,
                _ => {}
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(interrupted && resubscribed, "the subscriber did not resubscribe (interrupted: {interrupted})");
    assert_eq!(publisher.publish("drill:news", "after").await.unwrap(), 1, "publish on the new master");
    assert_eq!(next_message(&subscriber, Duration::from_secs(5)).await, "after");

    let t = tally.lock().unwrap();
    // The outage as the writers saw it: the longest pause between two successful writes around
    // the kill (replies read just after the kill were answered before it). It ends with the
    // first write on the new master.
    let mut times = t.write_times.clone();
    times.sort();
    let (outage_start, back_at) = times
        .windows(2)
        .filter(|w| w[1] > killed_at)
        .map(|w| (w[0], w[1]))
        .max_by_key(|(a, b)| b.duration_since(*a))
        .expect("writes after the kill");
    let to_promotion = promoted_at - killed_at;
    let to_write = back_at.saturating_duration_since(promoted_at);
    let signed_ms = |a: Instant, b: Instant| {
        if b >= a {
            b.duration_since(a).as_millis() as i64
        } else {
            -(a.duration_since(b).as_millis() as i64)
        }
    };
    println!(
        "sentinel kill drill: {TASKS} tasks, writes ok {}, reads ok {}, errors {}, stale reads {}, wrong {}",
        t.writes_ok,
        t.reads_ok,
        t.errors.len(),
        t.stale_reads,
        t.wrong.len()
    );
    println!(
        "sentinel kill drill: kill -> promotion {} ms, promotion -> first successful write {} ms, \
         writes paused {} ms (kill -> back {} ms)",
        to_promotion.as_millis(),
        signed_ms(promoted_at, back_at),
        back_at.duration_since(outage_start).as_millis(),
        back_at.duration_since(killed_at).as_millis()
    );
    for (op, e) in &t.errors {
        println!("  error in {op}: {e}");
    }
    assert!(t.wrong.is_empty(), "wrong answers: {:?}", t.wrong);
    // Only writes in flight at the kill fail, at most one per task, and only as "may have run".
    for (op, e) in &t.errors {
        assert_eq!(*op, "key_set", "a read failed: {e}");
        assert!(e.is_outcome_unknown(), "a write failed other than in flight: {e}");
    }
    assert!(t.errors.len() <= TASKS, "{} errors from {TASKS} tasks", t.errors.len());
    assert!(to_write < Duration::from_secs(30), "writes back {to_write:?} after the promotion");
    assert!(t.writes_ok > before, "no write after the failover");
}

/// `examples/sentinel.json` (the one `scripts/sentinel-up` serves) parses and means what it says.
#[test]
fn example_json() {
    use redwire::config::{SecretSource, StoreConfig};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sentinel.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let StoreConfig::RedisSentinel(s) = parse(&text).unwrap() else { panic!("not RedisSentinel") };
    assert_eq!(s.urls.len(), 3);
    assert_eq!(s.service_name, "mymaster");
    assert_eq!(s.auth_username.as_deref(), Some("stalwart"));
    assert_eq!(s.auth_secret, SecretSource::File(".tmp/sentinel-demo/password".into()));
    assert_eq!(s.sentinel_secret, SecretSource::None);
}
