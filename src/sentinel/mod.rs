//! Redis/Valkey Sentinel: a client for the master of a monitored service,
//! following its failovers.
//!
//! Lives here: [`SentinelClient`] and [`SentinelOptions`], `discover` (ask the
//! sentinels, verify with `ROLE`), `watch` (the `+switch-master` subscription)
//! and `reply` (pure parsing of what sentinels answer). Layer: a client, beside
//! [`Client`] (standalone) and the cluster router, which the store and pub/sub
//! use; it is built from [`Client`], [`Reconnecting`] and the retry policy of
//! `route`, and does no IO of its own.
//!
//! # How the master is found and followed
//! 1. Each sentinel in turn is asked `SENTINEL GET-MASTER-ADDR-BY-NAME
//!    <service>` with the sentinel credentials; the one that answered is asked
//!    first next time.
//! 2. A [`Client`] (one multiplexed connection plus a pool) is connected to
//!    that address with the data credentials, and `ROLE` must say `master`.
//! 3. The current master is one `Arc` behind a lock, swapped whole when it
//!    changes: a `+switch-master` announcement (a background task stays
//!    subscribed on one sentinel, moving on when it dies), or a failed
//!    command: `READONLY` (the node was demoted), a command that could not be
//!    sent (the master is gone), or one sent without a reply. The sentinels
//!    are then asked again (at most every [`MIN_REFRESH_GAP`], one caller at a
//!    time), and the command resent by the rules below.
//!
//! # Retries: the same rules as everywhere else
//! The decision is `route::classify` with [`SentinelOptions::retry`]: a
//! command that was never sent ([`Error::NotSent`]) or refused with
//! `READONLY` did not run and is sent again, to the new master once the
//! sentinels name one; a command that may have run ([`Error::OutcomeUnknown`],
//! a timeout) is sent again only when it is read-only or marked idempotent,
//! and otherwise returned. `LOADING`/`MASTERDOWN` wait and resend. Retries
//! stop after `retry.max_retries` (by default 5 to 10 s of waiting in all,
//! long enough for the sentinels to promote a replica when
//! `down-after-milliseconds` is a few seconds).
//!
//! Not here: reading from replicas (`SENTINEL REPLICAS`); every command goes
//! to the master.

mod discover;
mod reply;
mod watch;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) use discover::resolve;

use crate::client::Client;
use crate::cmd::{Cmd, FromReply};
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{Error, NodeAddr};
use crate::pool::PoolOptions;
use crate::resp::Frame;
use crate::route::{classify, command_info, is_retry_safe, RetryAction, RetryPolicy};

/// The shortest time between two rounds of questions to the sentinels caused
/// by failing commands: many callers failing at once ask once.
pub const MIN_REFRESH_GAP: Duration = Duration::from_millis(100);

/// Settings of a [`SentinelClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelOptions {
    /// The sentinels: address, TLS, and the sentinel credentials (if any).
    pub sentinels: Vec<ConnectOptions>,
    /// The monitored master's name (`serviceName`).
    pub service_name: String,
    /// How to connect to the master: credentials, TLS, protocol, database,
    /// timeouts. The address is replaced by the one the sentinels give.
    pub master: ConnectOptions,
    /// The master client's pool of exclusive connections.
    pub pool: PoolOptions,
    /// Retries of one command (see the module doc).
    pub retry: RetryPolicy,
    /// Subscribe to `+switch-master` on a sentinel (default true). Without
    /// it, failovers are noticed only when a command fails.
    pub watch: bool,
}

impl Default for SentinelOptions {
    fn default() -> Self {
        SentinelOptions {
            sentinels: vec![ConnectOptions::tcp("127.0.0.1", 26379)],
            service_name: "mymaster".into(),
            master: ConnectOptions::default(),
            pool: PoolOptions::default(),
            retry: RetryPolicy::default(),
            watch: true,
        }
    }
}

/// A client for the master of a sentinel-monitored service. Clones share the
/// connections; dropping the last one stops its background task.
#[derive(Clone)]
pub struct SentinelClient {
    inner: Arc<Inner>,
}

struct Inner {
    opts: Arc<SentinelOptions>,
    /// One lazily (re)connecting handle per sentinel.
    sentinels: Vec<Reconnecting>,
    /// The sentinel to ask first (the last that answered).
    preferred: AtomicUsize,
    current: Mutex<Arc<Master>>,
    /// One round of questions at a time; when the last one started.
    resolving: tokio::sync::Mutex<Option<Instant>>,
    switches: AtomicU64,
    watcher: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.watcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

/// The master in use, and how many switches ago it was installed.
struct Master {
    addr: NodeAddr,
    client: Client,
    epoch: u64,
}

impl std::fmt::Debug for SentinelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sentinels: Vec<String> = self.inner.opts.sentinels.iter().map(ConnectOptions::describe).collect();
        f.debug_struct("SentinelClient")
            .field("service", &self.inner.opts.service_name)
            .field("sentinels", &sentinels)
            .field("master", &self.master_addr())
            .finish()
    }
}

impl SentinelClient {
    /// Finds the master through the sentinels, connects to it, checks its
    /// role, and starts listening for failovers (when `opts.watch`). Must be
    /// called inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] without sentinels or service name, or when no
    /// sentinel monitors the service; [`Error::Auth`] when a sentinel or the
    /// master refuses the credentials; otherwise the last sentinel's or the
    /// master's connect error. Errors never contain a password.
    ///
    /// # Cancel safety
    /// Dropping the future drops the connections made so far.
    pub async fn connect(opts: SentinelOptions) -> Result<SentinelClient, Error> {
        if opts.sentinels.is_empty() {
            return Err(Error::Config("a sentinel client needs at least one sentinel".into()));
        }
        if opts.service_name.is_empty() {
            return Err(Error::Config("serviceName: must not be empty".into()));
        }
        let opts = Arc::new(opts);
        let sentinels: Vec<Reconnecting> =
            opts.sentinels.iter().map(|o| Reconnecting::new(o.clone(), None, None)).collect();
        let (preferred, addr) = discover::ask_master(&sentinels, 0, &opts.service_name).await?;
        let client = discover::connect_master(&opts, &addr).await?;
        let inner = Arc::new(Inner {
            opts: opts.clone(),
            sentinels,
            preferred: AtomicUsize::new(preferred),
            current: Mutex::new(Arc::new(Master { addr, client, epoch: 0 })),
            resolving: tokio::sync::Mutex::new(None),
            switches: AtomicU64::new(0),
            watcher: Mutex::new(None),
        });
        if opts.watch {
            let task = tokio::spawn(watch::run(
                Arc::downgrade(&inner),
                opts.sentinels.clone(),
                opts.service_name.clone(),
                preferred,
            ));
            *inner.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        }
        Ok(SentinelClient { inner })
    }

    fn current(&self) -> Arc<Master> {
        self.inner.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The address of the master in use.
    pub fn master_addr(&self) -> NodeAddr {
        self.current().addr.clone()
    }

    /// The client of the master in use (for per-node work such as `SCAN`).
    /// It is replaced, not redirected, on a failover.
    pub fn master(&self) -> Client {
        self.current().client.clone()
    }

    /// How many times the master was replaced since connecting.
    pub fn switches(&self) -> u64 {
        self.inner.switches.load(Ordering::Acquire)
    }

    /// The options this client was built with.
    pub fn options(&self) -> &SentinelOptions {
        &self.inner.opts
    }

    /// Sends one command to the master; error replies come back as frames.
    /// Blocking and stateful commands are handled as by [`Client::send`].
    ///
    /// # Errors
    /// As [`Client::send`]; a command that could not be sent or was refused
    /// with `READONLY` is retried on the new master (see the module doc),
    /// giving [`Error::RetriesExhausted`] if none appears in time.
    ///
    /// # Cancel safety
    /// As [`Client::send`]: a dropped call may still run.
    pub async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        let policy = self.inner.opts.retry;
        let retry_safe = is_retry_safe(c, &command_info(c));
        let mut attempt = 0u32;
        loop {
            let master = self.current();
            let (err, reply) = match master.client.send(c).await {
                Ok(Frame::SimpleError(e)) | Ok(Frame::BlobError(e)) => {
                    let frame = Frame::SimpleError(e.clone());
                    (Error::Server(e), Some(frame))
                }
                Ok(frame) => return Ok(frame),
                Err(e) => (e, None),
            };
            match classify(&err, attempt, &policy, retry_safe, rand::random::<u64>()) {
                RetryAction::Backoff(wait) => tokio::time::sleep(wait).await,
                RetryAction::RefreshAndRetry(wait) => {
                    // A new master is tried at once; the same one after the wait.
                    if !self.refresh(Some(master.epoch)).await.unwrap_or(false) {
                        tokio::time::sleep(wait).await;
                    }
                }
                RetryAction::Exhausted => {
                    return Err(Error::RetriesExhausted { attempts: attempt + 1, last: Arc::new(err) });
                }
                // Return, and redirects (which only a cluster sends).
                _ => {
                    return match reply {
                        Some(frame) => Ok(frame),
                        None => Err(err),
                    };
                }
            }
            attempt += 1;
        }
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`SentinelClient::send`], plus [`Error::Server`] and [`Error::Type`].
    ///
    /// # Cancel safety
    /// As [`SentinelClient::send`].
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(c).await?)
    }

    /// Asks the sentinels for the master and switches to it if it changed.
    /// `seen` is the epoch the caller failed on: when the master was switched
    /// since, nothing is asked. `None` asks regardless of the spacing.
    /// Returns true when the master in use is now another one than at `seen`.
    async fn refresh(&self, seen: Option<u64>) -> Result<bool, Error> {
        let mut last = self.inner.resolving.lock().await;
        if let Some(seen) = seen {
            if self.current().epoch != seen {
                return Ok(true);
            }
            if last.is_some_and(|at| at.elapsed() < MIN_REFRESH_GAP) {
                return Ok(false);
            }
        }
        *last = Some(Instant::now());
        let start = self.inner.preferred.load(Ordering::Relaxed);
        let (index, addr) =
            discover::ask_master(&self.inner.sentinels, start, &self.inner.opts.service_name).await?;
        self.inner.preferred.store(index, Ordering::Relaxed);
        self.install(addr).await
    }

    /// Switches to `addr` (from a `+switch-master`), once it is verified.
    async fn switch_to(&self, addr: NodeAddr) -> Result<bool, Error> {
        let _one_at_a_time = self.inner.resolving.lock().await;
        self.install(addr).await
    }

    /// Connects to `addr` and makes it the master, unless it already is.
    /// The caller holds `resolving`.
    async fn install(&self, addr: NodeAddr) -> Result<bool, Error> {
        let epoch = {
            let current = self.current();
            if current.addr == addr {
                return Ok(false);
            }
            current.epoch
        };
        let client = discover::connect_master(&self.inner.opts, &addr).await?;
        let master = Arc::new(Master { addr, client, epoch: epoch + 1 });
        // The old client closes when the last caller using it lets go.
        *self.inner.current.lock().unwrap_or_else(|p| p.into_inner()) = master;
        self.inner.switches.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_empty_settings() {
        let none = SentinelOptions { sentinels: Vec::new(), ..SentinelOptions::default() };
        assert!(matches!(SentinelClient::connect(none).await, Err(Error::Config(_))));
        let unnamed = SentinelOptions { service_name: String::new(), ..SentinelOptions::default() };
        let e = SentinelClient::connect(unnamed).await.unwrap_err();
        assert!(matches!(&e, Error::Config(m) if m.contains("serviceName")), "{e}");
    }

    #[test]
    fn client_is_send_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<SentinelClient>();
    }
}
