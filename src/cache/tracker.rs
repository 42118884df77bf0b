//! Tracking per node: turns `CLIENT TRACKING` on for every connection a
//! cached client opens to a node, and tells the store (through the node's
//! [`Source`]) when replies read through it may be cached and when they no
//! longer may be served.
//!
//! [`Cache::attach`] wraps a node's push sink (invalidation pushes go to the
//! store first) and reconnect hook (a new connection makes the source "not
//! tracking" before any caller can use it, and wakes the node's task). The
//! task sends `CLIENT TRACKING ON ...` on each new connection and marks the
//! source ready once it is confirmed — unless the connection changed
//! meanwhile — then waits for the connection's loss. On RESP2 the task also
//! keeps an invalidation connection to the node (subscribed to
//! `__redis__:invalidate`, its `CLIENT ID` the `REDIRECT` target) and
//! re-points the data connection whenever that one is replaced; losing it
//! marks the source down at once. Not here: the store, the send path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::store::{Source, Store};
use super::{Cache, CacheOptions};
use crate::cmd::cmd;
use crate::conn::{ConnectOptions, Connection, Protocol, PushSink};
use crate::resp::Frame;

/// A reconnect hook as `conn::Reconnecting` takes it.
pub(crate) type Hook = Arc<dyn Fn(&Connection) + Send + Sync>;

const RETRY_MIN: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_secs(1);

impl Cache {
    /// Wraps the push sink and reconnect hook of the multiplexed connection
    /// to one node (`opts`) and starts the node's tracking task. Returns the
    /// sink and hook to build the connection with, and the node's source.
    pub(crate) fn attach(
        self: &Arc<Cache>,
        opts: &ConnectOptions,
        sink: PushSink,
        hook: Hook,
    ) -> (PushSink, Hook, Arc<Source>) {
        let source = Arc::new(Source::default());
        let (conn_tx, conn_rx) = watch::channel::<Option<Connection>>(None);
        let store = self.store.clone();
        let push: PushSink = Arc::new(move |frame: Frame| {
            Cache::on_push(&store, &frame);
            sink(frame);
        });
        let src = source.clone();
        let on_connect: Hook = Arc::new(move |conn: &Connection| {
            // Before any caller has the new connection: nothing read through
            // it is cached until its tracking is confirmed.
            src.set_down();
            conn_tx.send_replace(Some(conn.clone()));
            hook(conn);
        });
        let task = tokio::spawn(track(
            self.opts.clone(),
            self.store.clone(),
            source.clone(),
            conn_rx,
            opts.clone(),
            self.stop.subscribe(),
        ));
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        (push, on_connect, source)
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The node's task (see the module documentation). Ends when the client
/// stops it or drops the connection handle (the hook, holding `conn_tx`).
async fn track(
    cache: CacheOptions,
    store: Arc<Store>,
    source: Arc<Source>,
    mut conns: watch::Receiver<Option<Connection>>,
    opts: ConnectOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut link: Option<(watch::Receiver<Option<i64>>, tokio::task::JoinHandle<()>)> = None;
    let mut failures = 0u32;
    let result = async {
        loop {
            let conn = loop {
                let current = conns.borrow_and_update().clone();
                if let Some(c) = current.filter(|c| !c.is_closed()) {
                    break c;
                }
                tokio::select! {
                    r = conns.changed() => r.map_err(|_| ())?,
                    () = stopped(&mut stop) => return Err(()),
                }
            };
            // The state the hook left for this connection: ready is set only
            // from it, so a newer connection (or a loss) in between wins.
            let Some(before) = source.state_if_down() else {
                // Ready already (a loss not seen yet): mark down and look again.
                source.set_down();
                continue;
            };
            let redirect = if conn.protocol() == Protocol::Resp2 {
                let (ids, _) = link.get_or_insert_with(|| {
                    let (tx, rx) = watch::channel(None);
                    let task = tokio::spawn(invalidation_link(
                        opts.clone(),
                        store.clone(),
                        source.clone(),
                        tx,
                        stop.clone(),
                    ));
                    (rx, task)
                });
                let mut ids = ids.clone();
                let id = tokio::select! {
                    id = ids.wait_for(Option::is_some) => id.map_err(|_| ())?.unwrap_or_default(),
                    r = conns.changed() => { r.map_err(|_| ())?; continue; }
                    () = stopped(&mut stop) => return Err(()),
                };
                Some(id)
            } else {
                None
            };
            let on = cache.tracking_cmd(redirect);
            // OFF first: a RESP2 connection re-pointed to a new invalidation
            // connection, or an ON with other options, starts clean.
            let both = [cmd("CLIENT").arg("TRACKING").arg("OFF"), on];
            let confirmed = tokio::select! {
                r = conn.send_pipeline(&both) => r,
                () = stopped(&mut stop) => return Err(()),
            };
            let ok = matches!(&confirmed, Ok(replies) if replies.iter().all(|f| !matches!(f, Frame::SimpleError(_) | Frame::BlobError(_))));
            if !ok {
                failures = failures.saturating_add(1);
                let wait = crate::backoff::backoff(failures, RETRY_MIN, RETRY_MAX, rand::random::<u64>());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return Err(()),
                }
                continue;
            }
            failures = 0;
            source.set_out_of_band(redirect.is_some());
            source.set_ready_from(before);
            let mut ids = link.as_ref().map(|(rx, _)| rx.clone());
            let link_lost = async {
                match ids.as_mut() {
                    Some(ids) => {
                        let _ = ids.wait_for(|id| *id != redirect).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = conn.closed() => {}
                r = conns.changed() => { r.map_err(|_| ())?; }
                () = link_lost => {}
                () = stopped(&mut stop) => return Err(()),
            }
            source.set_down();
        }
    };
    let _: Result<(), ()> = result.await;
    source.set_down();
    if let Some((_, task)) = link {
        let _ = task.await;
    }
}

/// RESP2: a connection to the node subscribed to `__redis__:invalidate`,
/// publishing its client id while it is up; its loss marks the source down
/// at once (invalidations may be lost). Reconnects with backoff until stopped.
async fn invalidation_link(
    opts: ConnectOptions,
    store: Arc<Store>,
    source: Arc<Source>,
    ids: watch::Sender<Option<i64>>,
    mut stop: watch::Receiver<bool>,
) {
    let channel = Bytes::from_static(b"__redis__:invalidate");
    let mut failures = 0u32;
    loop {
        let sink_store = store.clone();
        let sink: PushSink = Arc::new(move |frame: Frame| Cache::on_push(&sink_store, &frame));
        let attempt = async {
            let conn = Connection::connect_pubsub(&opts, sink).await?;
            let id: i64 = conn.query(&cmd("CLIENT").arg("ID")).await?;
            let sub = cmd("SUBSCRIBE").arg(&channel[..]);
            match conn.send_confirmed(&sub, b"subscribe", vec![channel.clone()]).await? {
                Frame::SimpleError(e) | Frame::BlobError(e) => Err(crate::Error::Server(e)),
                _ => Ok((conn, id)),
            }
        };
        let connected = tokio::select! {
            r = attempt => r,
            () = stopped(&mut stop) => break,
        };
        if let Ok((conn, id)) = connected {
            failures = 0;
            ids.send_replace(Some(id));
            let stopping = tokio::select! {
                () = keep_alive(&conn) => false,
                () = stopped(&mut stop) => true,
            };
            ids.send_replace(None);
            source.set_down();
            conn.close();
            conn.stopped().await;
            if stopping {
                break;
            }
        } else {
            failures = failures.saturating_add(1);
        }
        let wait = crate::backoff::backoff(failures, RETRY_MIN, RETRY_MAX, rand::random::<u64>());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut stop) => break,
        }
    }
    ids.send_replace(None);
    source.set_down();
}

/// Pings an idle invalidation connection so a dead peer is noticed (a ping
/// without a reply trips the connection's watchdog, which closes it).
async fn keep_alive(conn: &Connection) {
    loop {
        tokio::select! {
            () = conn.closed() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {
                if conn.send(&cmd("PING")).await.is_err() {
                    return;
                }
            }
        }
    }
}
