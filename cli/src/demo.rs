//! `redwire demo`: what a mail server asks of its in-memory store, step by
//! step, on whichever store the global options name (the embedded one by
//! default): sessions that expire, rate limits, mailbox locks, quota counters
//! under concurrent deliveries, and a prefix purge of a cache.
//!
//! Every step checks its result and prints `ok` or `FAIL`; the run exits 2 if
//! any check failed, 1 on an error (a server that cannot be reached, say), 0
//! otherwise. All keys live under `redwire-demo:<random>:` and are deleted at
//! the end, so a run is safe on a shared server.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redwire::store::LockToken;
use redwire::{Error, Store};

struct Demo<'a> {
    store: &'a Store,
    ns: String,
    checks: u32,
    failures: u32,
}

impl Demo<'_> {
    fn key(&self, suffix: &str) -> Vec<u8> {
        format!("{}{suffix}", self.ns).into_bytes()
    }

    fn section(&self, title: &str) {
        println!("\n{title}");
    }

    fn check(&mut self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        self.checks += 1;
        if ok {
            println!("  ok    {what}");
        } else {
            self.failures += 1;
            println!("  FAIL  {what}: {}", detail());
        }
    }

    async fn sessions(&mut self) -> Result<(), Error> {
        self.section("Sessions: a login stores its session for one second");
        let session = self.key("session:7f3a");
        let data = Bytes::from_static(br#"{"account":"alice@example.org","ip":"192.0.2.10"}"#);
        self.store.key_set(&session, data.clone(), Some(Duration::from_secs(1))).await?;
        let got = self.store.key_get(&session).await?;
        self.check("the session reads back", got.as_ref() == Some(&data), || format!("got {got:?}"));
        let exists = self.store.key_exists(&session).await?;
        self.check("the session exists", exists, || "it does not".into());
        println!("        (waiting 1.2 s for it to expire)");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let got = self.store.key_get(&session).await?;
        self.check("after its ttl the session is gone", got.is_none(), || format!("got {got:?}"));
        Ok(())
    }

    async fn rate_limits(&mut self) -> Result<(), Error> {
        self.section("Rate limits: at most 3 messages per 60 s from one address");
        let period = Duration::from_secs(60);
        // Start well inside a window, so the four hits below share one.
        let into_window = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() % 60);
        if into_window >= 58 {
            tokio::time::sleep(Duration::from_secs(61 - into_window)).await;
        }
        let ip = self.key("rate:smtp:192.0.2.10");
        for hit in 1..=3 {
            let verdict = self.store.is_rate_allowed(&ip, 3, period, false).await?;
            self.check(&format!("message {hit} is allowed"), verdict.is_none(), || format!("{verdict:?}"));
        }
        let soft = self.store.is_rate_allowed(&ip, 3, period, true).await?;
        self.check("a soft check sees the limit without counting", soft.is_some(), || format!("{soft:?}"));
        let fourth = self.store.is_rate_allowed(&ip, 3, period, false).await?;
        let shown = fourth.map_or("allowed".to_string(), |s| format!("retry in {s} s"));
        self.check(&format!("message 4 is refused ({shown})"), matches!(fourth, Some(1..=60)), || {
            shown.clone()
        });
        Ok(())
    }

    async fn locks(&mut self) -> Result<(), Error> {
        self.section("Locks: one IMAP session at a time may expunge a mailbox");
        let mailbox = self.key("lock:mailbox:alice:INBOX");
        let ttl = Duration::from_secs(30);
        let Some(token) = self.store.try_lock(&mailbox, ttl).await? else {
            self.check("the first session takes the lock", false, || "it was already held".into());
            return Ok(());
        };
        self.check("the first session takes the lock", true, String::new);
        let second = self.store.try_lock(&mailbox, ttl).await?;
        self.check("a second session is refused", second.is_none(), || "it got the lock too".into());
        let stolen = self.store.remove_lock(&mailbox, &LockToken::random()).await?;
        self.check("a wrong token cannot release it", !stolen, || "it did".into());
        let released = self.store.remove_lock(&mailbox, &token).await?;
        self.check("the holder releases it", released, || "it could not".into());
        let again = self.store.try_lock(&mailbox, ttl).await?;
        self.check("the next session takes it", again.is_some(), || "still held".into());
        if let Some(token) = again {
            self.store.remove_lock(&mailbox, &token).await?;
        }
        Ok(())
    }

    async fn counters(&mut self) -> Result<(), Error> {
        self.section("Counters: 20 deliveries at once add to a quota");
        let quota = self.key("quota:alice");
        let mut deliveries = tokio::task::JoinSet::new();
        for size in 1..=20i64 {
            let (store, quota) = (self.store.clone(), quota.clone());
            deliveries.spawn(async move {
                store.counter_incr(&quota, size * 1024, Some(Duration::from_secs(60))).await
            });
        }
        while let Some(done) = deliveries.join_next().await {
            done.map_err(|e| Error::Other(format!("a delivery task failed: {e}")))??;
        }
        let expected = (1..=20i64).sum::<i64>() * 1024;
        let total = self.store.counter_get(&quota).await?;
        self.check(&format!("the quota adds up to {expected} bytes"), total == expected, || {
            format!("got {total}")
        });
        let unknown = self.store.counter_get(&self.key("quota:nobody")).await?;
        self.check("an unknown account has used 0", unknown == 0, || format!("got {unknown}"));
        let deleted = self.store.counter_delete(&quota).await?;
        let after = self.store.counter_get(&quota).await?;
        self.check("the quota resets", deleted && after == 0, || format!("deleted {deleted}, then {after}"));
        Ok(())
    }

    async fn purge(&mut self) -> Result<(), Error> {
        self.section("Prefix purge: drop the DNS cache, keep the DKIM cache");
        for i in 0..50 {
            let name = self.key(&format!("cache:dns:host{i}.example.org"));
            self.store
                .key_set(&name, Bytes::from_static(b"192.0.2.1"), Some(Duration::from_secs(300)))
                .await?;
        }
        let dkim = self.key("cache:dkim:selector._domainkey.example.org");
        self.store
            .key_set(&dkim, Bytes::from_static(b"v=DKIM1; p=..."), Some(Duration::from_secs(300)))
            .await?;
        let deleted = self.store.key_delete_prefix(&self.key("cache:dns:")).await?;
        self.check("50 DNS entries are deleted", deleted == 50, || format!("deleted {deleted}"));
        let kept = self.store.key_exists(&dkim).await?;
        self.check("the DKIM entry stays", kept, || "it was deleted".into());
        let expired = self.store.purge().await?;
        println!("        (purge dropped {expired} expired entries; servers expire keys themselves)");
        Ok(())
    }
}

/// Runs the demo on `store`.
///
/// # Errors
/// The first store error; the keys written so far are then left to expire.
pub async fn run(store: &Store) -> Result<i32, Error> {
    let started = Instant::now();
    let mut demo =
        Demo { store, ns: format!("redwire-demo:{:08x}:", fastrand::u32(..)), checks: 0, failures: 0 };
    println!("redwire demo on the {} store (keys under {})", store.kind(), demo.ns);
    demo.sessions().await?;
    demo.rate_limits().await?;
    demo.locks().await?;
    demo.counters().await?;
    demo.purge().await?;
    let left = store.key_delete_prefix(demo.ns.as_bytes()).await?;
    println!("\ncleaned up {left} keys");
    let took = started.elapsed().as_secs_f64();
    if demo.failures == 0 {
        println!("all {} checks passed in {took:.1} s", demo.checks);
        Ok(0)
    } else {
        println!("{} of {} checks FAILED", demo.failures, demo.checks);
        Ok(2)
    }
}
