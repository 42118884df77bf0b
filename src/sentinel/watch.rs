//! Listening for failovers: a `+switch-master` subscription on one sentinel
//! at a time, moving to the next sentinel when that one goes away.
//!
//! Lives here: [`run`], the task a [`SentinelClient`](super::SentinelClient)
//! starts. It holds only a weak reference to the client, so dropping the last
//! handle ends it (the client also aborts it). Every time a subscription is
//! (re)established the master is asked for again, since a failover announced
//! while no sentinel was watched would otherwise go unnoticed until the next
//! error. Not here: asking for the master (`discover`), switching (`SentinelClient`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::reply::{switch_master_names, SwitchMaster, SWITCH_MASTER};
use super::{Inner, SentinelClient};
use crate::backoff::backoff;
use crate::cmd::cmd;
use crate::conn::{ConnectOptions, Connection, PushSink};
use crate::error::Error;
use crate::resp::Frame;

/// Shortest and longest wait before subscribing on the next sentinel.
const MIN_WAIT: Duration = Duration::from_millis(50);
const MAX_WAIT: Duration = Duration::from_secs(2);
/// An idle subscription is pinged this often, so a sentinel that vanished
/// without closing the socket is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Subscribes on the sentinels in turn, starting at `start`, and hands every
/// `+switch-master` for `service` to the client, until the client is gone.
pub(super) async fn run(inner: Weak<Inner>, sentinels: Vec<ConnectOptions>, service: String, start: usize) {
    if sentinels.is_empty() {
        return;
    }
    let mut index = start;
    let mut failures = 0u32;
    loop {
        let Some(opts) = sentinels.get(index % sentinels.len()) else { return };
        let (tx, mut events) = mpsc::unbounded_channel::<SwitchMaster>();
        let sink: PushSink = Arc::new(move |frame: Frame| {
            if let Some(switch) = SwitchMaster::from_push(&frame) {
                let _ = tx.send(switch);
            }
        });
        match subscribe(opts, sink).await {
            Ok(conn) => {
                failures = 0;
                if let Some(client) = upgrade(&inner) {
                    // Catch up with a failover missed while unsubscribed.
                    let _ = client.refresh(None).await;
                }
                if !listen(&inner, &conn, &mut events, &service).await {
                    conn.close();
                    return;
                }
                conn.close();
            }
            Err(_) => failures = failures.saturating_add(1),
        }
        index = index.wrapping_add(1);
        tokio::time::sleep(backoff(failures, MIN_WAIT, MAX_WAIT, rand::random::<u64>())).await;
    }
}

fn upgrade(inner: &Weak<Inner>) -> Option<SentinelClient> {
    inner.upgrade().map(|inner| SentinelClient { inner })
}

async fn subscribe(opts: &ConnectOptions, sink: PushSink) -> Result<Connection, Error> {
    let conn = Connection::connect_pubsub(opts, sink).await?;
    let subscribe = cmd("SUBSCRIBE").arg(SWITCH_MASTER);
    conn.send_confirmed(&subscribe, b"subscribe", switch_master_names()).await?.into_result()?;
    Ok(conn)
}

/// Handles announcements until the connection closes (true: try the next
/// sentinel) or the client is dropped (false: stop).
async fn listen(
    inner: &Weak<Inner>,
    conn: &Connection,
    events: &mut mpsc::UnboundedReceiver<SwitchMaster>,
    service: &str,
) -> bool {
    let closed = conn.closed();
    tokio::pin!(closed);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        tokio::select! {
            () = &mut closed => return true,
            event = events.recv() => {
                let Some(switch) = event else { return true };
                if switch.service != service {
                    continue;
                }
                let Some(client) = upgrade(inner) else { return false };
                let _ = client.switch_to(switch.new).await;
            }
            _ = ping.tick() => {
                if inner.strong_count() == 0 {
                    return false;
                }
                if conn.send(&cmd("PING")).await.is_err() {
                    return true;
                }
            }
        }
    }
}
