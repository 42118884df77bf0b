//! Our own connection pool, with Stalwart's settings: `poolMaxConnections`,
//! `poolTimeoutCreate`, `poolTimeoutWait`, `poolTimeoutRecycle`.
//!
//! # When is a pool needed at all?
//! One multiplexed [`Connection`] already serves any number of concurrent
//! callers, pipelining their commands; that is what `Client` uses for
//! ordinary commands and it needs no pool. The pool is for commands that hold
//! a connection's state or block it: `BLPOP`/`BRPOP`/`XREAD BLOCK` (which
//! would stall every other caller queued behind them), `WATCH`/`MULTI`/`EXEC`
//! spread over several round trips, `SELECT`, `SUBSCRIBE` on RESP2; and for
//! spreading load over several sockets.
//!
//! # Semantics
//! - At most `max_connections` connections exist (idle + checked out).
//! - Waiting for a free slot is bounded by `timeout_wait`; creating a
//!   connection by `timeout_create`; checking an idle one by `timeout_recycle`
//!   (`None` = no limit). Each gives [`Error::Pool`] with the kind.
//! - No round trip on checkout: a connection idle for less than
//!   `health_check_after` is handed out as is. One idle for longer, or
//!   returned after an error, is pinged first: it is replaced when the ping
//!   fails, and the checkout fails with [`PoolTimeout::Recycle`] when no
//!   answer comes within `timeout_recycle`.
//! - A connection comes back dirty (inside MULTI or WATCH, subscribed,
//!   SELECTed to another db, a blocking command unfinished or abandoned,
//!   closed) is discarded, never handed to the next caller.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cmd::{cmd, Cmd, FromReply};
use crate::conn::{ConnectOptions, Connection};
use crate::error::{Error, PoolTimeout};
use crate::resp::Frame;

/// Pool settings (Stalwart's names in the comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// `poolMaxConnections`: 1..=8192, default 10.
    pub max_connections: u32,
    /// `poolTimeoutCreate`: bound on opening one connection (default 30 s).
    pub timeout_create: Option<Duration>,
    /// `poolTimeoutWait`: bound on waiting for a free slot (default 30 s).
    pub timeout_wait: Option<Duration>,
    /// `poolTimeoutRecycle`: bound on the health check of an idle connection (default 30 s).
    pub timeout_recycle: Option<Duration>,
    /// Idle time after which a connection is pinged before reuse (default 30 s).
    pub health_check_after: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 10,
            timeout_create: Some(Duration::from_secs(30)),
            timeout_wait: Some(Duration::from_secs(30)),
            timeout_recycle: Some(Duration::from_secs(30)),
            health_check_after: Duration::from_secs(30),
        }
    }
}

/// A pool of exclusive connections to one server.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    opts: ConnectOptions,
    pool: PoolOptions,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    conn: Connection,
    since: Instant,
    suspect: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.inner.opts.describe())
            .field("options", &self.inner.pool)
            .field("idle", &self.idle_count())
            .finish()
    }
}

async fn bounded<T>(
    limit: Option<Duration>,
    kind: PoolTimeout,
    fut: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(d) => tokio::time::timeout(d, fut).await.map_err(|_| Error::Pool(kind))?,
        None => fut.await,
    }
}

impl Pool {
    /// A pool for the server of `opts`; connections are opened on demand.
    pub fn new(opts: ConnectOptions, pool: PoolOptions) -> Pool {
        let max = pool.max_connections.clamp(1, 8192) as usize;
        Pool {
            inner: Arc::new(PoolInner {
                opts,
                pool,
                slots: Arc::new(Semaphore::new(max)),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The settings in force.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.pool
    }

    /// Idle connections kept for reuse.
    pub fn idle_count(&self) -> usize {
        self.inner.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Free slots (connections that could still be checked out).
    pub fn available(&self) -> usize {
        self.inner.slots.available_permits()
    }

    /// Checks a connection out for exclusive use; it returns on drop.
    ///
    /// # Errors
    /// [`Error::Pool`] when a timeout expires; connect errors as is.
    ///
    /// # Cancel safety
    /// Cancel-safe: a slot or connection obtained so far goes back.
    pub async fn get(&self) -> Result<Pooled, Error> {
        let slots = self.inner.slots.clone();
        let permit = bounded(self.inner.pool.timeout_wait, PoolTimeout::Wait, async move {
            slots.acquire_owned().await.map_err(|_| Error::Closed)
        })
        .await
        .inspect_err(|e| self.observe_timeout(e))?;
        loop {
            let candidate = {
                let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.pop()
            };
            let Some(idle) = candidate else { break };
            if idle.conn.is_closed() {
                continue;
            }
            if idle.suspect || idle.since.elapsed() >= self.inner.pool.health_check_after {
                let ping = bounded(self.inner.pool.timeout_recycle, PoolTimeout::Recycle, async {
                    idle.conn.query::<Frame>(&cmd("PING")).await
                })
                .await;
                match ping {
                    Ok(_) => {}
                    // The server did not answer in time: say so rather than
                    // open a new connection to a server that is not answering.
                    Err(e @ Error::Pool(PoolTimeout::Recycle)) => {
                        idle.conn.close();
                        return Err(e);
                    }
                    Err(_) => {
                        idle.conn.close();
                        continue;
                    }
                }
            }
            return Ok(Pooled::new(idle.conn, permit, self.inner.clone()));
        }
        let opts = &self.inner.opts;
        let conn =
            bounded(self.inner.pool.timeout_create, PoolTimeout::Create, Connection::connect(opts, None))
                .await?;
        Ok(Pooled::new(conn, permit, self.inner.clone()))
    }

    /// Reports a checkout that timed out (`tracing`, `metrics`).
    fn observe_timeout(&self, e: &Error) {
        if let Error::Pool(kind) = e {
            crate::observe::pool_timeout(&self.inner.opts, *kind, self.inner.pool.timeout_wait);
        }
    }

    /// Closes every idle connection (checked-out ones close when returned).
    pub fn clear(&self) {
        let drained: Vec<Idle> =
            std::mem::take(&mut *self.inner.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for i in drained {
            i.conn.close();
        }
    }
}

/// A connection checked out of a [`Pool`]; goes back (or is discarded) on drop.
pub struct Pooled {
    conn: Option<Connection>,
    _permit: OwnedSemaphorePermit,
    pool: Arc<PoolInner>,
    in_multi: bool,
    watching: bool,
    dirty: bool,
    errored: bool,
    /// A send is under way; still set if its future was dropped.
    pending: bool,
    /// Counted in `redwire_pool_in_use` while checked out (zero-sized without `metrics`).
    _in_use: crate::observe::PoolInUse,
}

impl std::fmt::Debug for Pooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pooled").field("dirty", &self.is_dirty()).finish()
    }
}

impl Pooled {
    fn new(conn: Connection, permit: OwnedSemaphorePermit, pool: Arc<PoolInner>) -> Pooled {
        Pooled {
            conn: Some(conn),
            _permit: permit,
            pool,
            in_multi: false,
            watching: false,
            dirty: false,
            errored: false,
            pending: false,
            _in_use: crate::observe::PoolInUse::new(),
        }
    }

    /// The underlying connection (for commands whose state the caller cleans up itself).
    /// Using it directly marks the connection dirty: it will not be reused.
    pub fn connection_mut(&mut self) -> Option<&Connection> {
        self.dirty = true;
        self.conn.as_ref()
    }

    /// True when the connection will be discarded instead of reused.
    pub fn is_dirty(&self) -> bool {
        self.dirty
            || self.pending
            || self.in_multi
            || self.watching
            || self.conn.as_ref().is_none_or(|c| c.is_closed() || c.in_flight() > 0)
    }

    /// Sends one command, tracking the state it leaves behind.
    ///
    /// # Errors
    /// As [`Connection::send`].
    ///
    /// # Cancel safety
    /// Dropping the future abandons the reply: the connection is then
    /// discarded on return, even if the reply came meanwhile (whatever the
    /// command did, a popped element for one, was never seen by anyone).
    pub async fn send(&mut self, command: &Cmd) -> Result<Frame, Error> {
        let conn = self.conn.as_ref().ok_or(Error::Closed)?;
        self.pending = true;
        let result = conn.send(command).await;
        self.pending = false;
        match &result {
            Ok(frame) if !frame.is_error() => self.track(command),
            Ok(_) => {
                // An error reply inside MULTI aborts on EXEC; state is still tracked.
                if command.is("EXEC") || command.is("DISCARD") {
                    self.in_multi = false;
                    self.watching = false;
                }
            }
            Err(_) => self.errored = true,
        }
        result
    }

    /// Sends one command and converts the reply.
    ///
    /// # Errors
    /// As [`Pooled::send`], plus conversion errors.
    ///
    /// # Cancel safety
    /// As [`Pooled::send`].
    pub async fn query<T: FromReply>(&mut self, command: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(command).await?)
    }

    fn track(&mut self, c: &Cmd) {
        if c.is("MULTI") {
            self.in_multi = true;
        } else if c.is("EXEC") || c.is("DISCARD") {
            self.in_multi = false;
            self.watching = false;
        } else if c.is("WATCH") {
            self.watching = true;
        } else if c.is("UNWATCH") {
            self.watching = false;
        } else if c.is("SELECT")
            || c.is("SUBSCRIBE")
            || c.is("PSUBSCRIBE")
            || c.is("SSUBSCRIBE")
            || c.is("MONITOR")
            || c.is("RESET")
            || c.is("HELLO")
            || c.is("AUTH")
            || c.is("READONLY")
            || c.is("READWRITE")
            || (c.is("CLIENT") && !c.arg_at(1).is_some_and(is_read_only_client_subcommand))
        {
            self.dirty = true;
        }
    }
}

/// `CLIENT` subcommands that only report and leave the connection as it was.
/// Every other one (SETNAME, REPLY, TRACKING, CACHING, NO-EVICT ...) may
/// change what the next user of the connection would see.
fn is_read_only_client_subcommand(sub: &[u8]) -> bool {
    [&b"ID"[..], b"INFO", b"GETNAME", b"LIST", b"GETREDIR", b"TRACKINGINFO", b"HELP"]
        .iter()
        .any(|name| sub.eq_ignore_ascii_case(name))
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let dirty = self.is_dirty();
        if let Some(conn) = self.conn.take() {
            if dirty {
                conn.close();
            } else {
                let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.push(Idle { conn, since: Instant::now(), suspect: self.errored });
            }
        }
    }
}
