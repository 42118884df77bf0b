//! A connection that reconnects: the current [`Connection`], replaced when it breaks.
//!
//! The hot path reads the live connection from a lock-free snapshot
//! (`arc_swap`) and queues the command on it directly: no lock of this
//! handle and no reference count taken per command. When it is closed, one
//! caller reconnects (others wait for that same attempt, no storm), with
//! exponential backoff and jitter between failed attempts; each caller makes
//! at most one attempt, so a dead server gives a prompt error instead of a
//! hang. A rejected password is returned at once.
//!
//! Setup commands ([`Reconnecting::add_setup`], e.g. `CLIENT TRACKING ON`)
//! are sent on every new connection before any caller can use it, so a
//! state the caller asked for survives reconnects. [`Reconnecting::close`]
//! ends the handle for good: the connection closes, its tasks end, and
//! every later call fails with [`Error::Closed`].
//!
//! Retries: a command that was never written ([`Error::NotSent`]) is sent
//! again on the next connection; one whose outcome is unknown is sent again
//! only if it is marked idempotent or is a known read-only command.
//! Not here: the socket and driver (`driver`), pools (`crate::pool`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::{ConnectOptions, Connection, PushSink};
use crate::cmd::{Cmd, FromReply};
use crate::error::Error;
use crate::observe::{self, Counters};
use crate::resp::Frame;

/// Called after every successful (re)connect with the new connection, before
/// any caller uses it (pub/sub resubscribes from here).
pub type OnConnect = Arc<dyn Fn(&Connection) + Send + Sync>;

/// A self-healing handle to one server. Clones share the connection.
#[derive(Clone)]
pub struct Reconnecting {
    inner: Arc<Inner>,
}

struct Inner {
    opts: ConnectOptions,
    push: Option<PushSink>,
    on_connect: Option<OnConnect>,
    current: ArcSwapOption<Connection>,
    connecting: tokio::sync::Mutex<Backoff>,
    generation: AtomicU64,
    /// Set while the last connect attempt failed.
    down: AtomicBool,
    /// Set once by [`Reconnecting::close`]: no connection is opened again.
    closed: AtomicBool,
    /// Sent on every new connection, in order, before it is handed out.
    setup: Mutex<Vec<Cmd>>,
    /// Reconnects, failed connects and resends (shared with a router's other nodes).
    counters: Arc<Counters>,
}

struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<Error>,
}

/// What [`Reconnecting::send`] has resent of one command so far.
#[derive(Debug, Default, Clone, Copy)]
struct Resends {
    resends: u32,
    retried_unknown: bool,
}

const MIN_RECONNECT_WAIT: Duration = Duration::from_millis(10);
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);
/// Most sends of one command after `NotSent` (each on a new connection).
const MAX_RESENDS: u32 = 3;

impl std::fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting").field("target", &self.inner.opts.describe()).finish()
    }
}

impl Reconnecting {
    /// A handle that connects on first use.
    pub fn new(opts: ConnectOptions, push: Option<PushSink>, on_connect: Option<OnConnect>) -> Reconnecting {
        Reconnecting::with_counters(opts, push, on_connect, Arc::default())
    }

    /// As [`Reconnecting::new`], counting its events in `counters` (a
    /// router's nodes share one set).
    pub(crate) fn with_counters(
        opts: ConnectOptions,
        push: Option<PushSink>,
        on_connect: Option<OnConnect>,
        counters: Arc<Counters>,
    ) -> Reconnecting {
        Reconnecting {
            inner: Arc::new(Inner {
                opts,
                push,
                on_connect,
                current: ArcSwapOption::empty(),
                connecting: tokio::sync::Mutex::new(Backoff {
                    failures: 0,
                    next_attempt: None,
                    last_error: None,
                }),
                down: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                setup: Mutex::new(Vec::new()),
                counters,
            }),
        }
    }

    /// Connects now, so that a wrong address or password shows at start-up.
    ///
    /// # Errors
    /// As [`Connection::connect`].
    pub async fn connect(
        opts: ConnectOptions,
        push: Option<PushSink>,
        on_connect: Option<OnConnect>,
    ) -> Result<Reconnecting, Error> {
        let r = Reconnecting::new(opts, push, on_connect);
        r.connection().await?;
        Ok(r)
    }

    /// The options every connection is opened with.
    pub fn options(&self) -> &ConnectOptions {
        &self.inner.opts
    }

    fn live(&self) -> Option<Connection> {
        let cur = self.inner.current.load();
        cur.as_deref().filter(|c| !c.is_closed()).cloned()
    }

    /// The live connection, reconnecting if it broke.
    ///
    /// # Errors
    /// The connect error when this caller's reconnect attempt fails.
    ///
    /// # Cancel safety
    /// Cancel-safe; a reconnect in progress continues for other callers only
    /// if one of them is waiting.
    pub async fn connection(&self) -> Result<Connection, Error> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let mut backoff = self.inner.connecting.lock().await;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if let (Some(at), Some(last)) = (backoff.next_attempt, &backoff.last_error) {
            // A recent attempt failed: answer at once with its error rather
            // than queueing every caller behind the backoff; the caller's
            // retry policy decides how long to wait.
            if Instant::now() < at {
                return Err(last.clone());
            }
        }
        let connected = match Connection::connect(&self.inner.opts, self.inner.push.clone()).await {
            Ok(conn) => match self.run_setup(&conn).await {
                Ok(()) => Ok(conn),
                Err(e) => {
                    conn.close();
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        match connected {
            Ok(conn) => {
                backoff.failures = 0;
                backoff.next_attempt = None;
                backoff.last_error = None;
                self.inner.down.store(false, Ordering::Release);
                if let Some(hook) = &self.inner.on_connect {
                    hook(&conn);
                }
                let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel);
                observe::reconnected(&self.inner.opts, &self.inner.counters, generation, self.last_cause());
                if self.is_closed() {
                    // Closed while connecting: `close` waits for the
                    // `connecting` lock held here, so the tasks end before it returns.
                    conn.close();
                    conn.stopped().await;
                    return Err(Error::Closed);
                }
                self.inner.current.store(Some(Arc::new(conn.clone())));
                Ok(conn)
            }
            Err(e) => {
                backoff.failures = backoff.failures.saturating_add(1);
                let delay = reconnect_delay(backoff.failures);
                observe::reconnect_failed(
                    &self.inner.opts,
                    &self.inner.counters,
                    &e,
                    backoff.failures,
                    delay,
                );
                backoff.next_attempt = Some(Instant::now() + delay);
                backoff.last_error = Some(e.clone());
                self.inner.down.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Sends one command, reconnecting and resending as the failure semantics allow.
    ///
    /// # Errors
    /// [`Error::NotSent`] when no connection could be made; [`Error::OutcomeUnknown`]
    /// when the connection broke after sending a non-idempotent command;
    /// otherwise as [`Connection::send`].
    ///
    /// # Cancel safety
    /// Cancel-safe (see [`Connection::send`]).
    pub async fn send(&self, cmd: &Cmd) -> Result<Frame, Error> {
        // The usual case, queued at once on the live connection, keeps this
        // future small (it is moved on every call); reconnecting, waiting for
        // room and resending live in a boxed future of their own.
        let mut retry = Resends::default();
        if let Some(reply) = self.try_send(cmd) {
            if let Some(done) = self.judge(cmd, reply.await, &mut retry) {
                return done;
            }
        }
        Box::pin(self.send_slow(cmd, retry)).await
    }

    /// [`Reconnecting::send`] past its first queued attempt: connects when
    /// needed, waits for room, and resends as the failure semantics allow.
    async fn send_slow(&self, cmd: &Cmd, mut retry: Resends) -> Result<Frame, Error> {
        loop {
            let sent = match self.try_send(cmd) {
                Some(reply) => reply.await,
                None => match self.connection().await {
                    Ok(conn) => conn.send(cmd).await,
                    Err(e @ (Error::Auth(_) | Error::Tls(_) | Error::Closed)) => return Err(e),
                    Err(e) => return Err(Error::NotSent { cause: Arc::new(e) }),
                },
            };
            if let Some(done) = self.judge(cmd, sent, &mut retry) {
                return done;
            }
        }
    }

    /// The result of one attempt: `Some` to return it, `None` to send again
    /// (a command never written, up to [`MAX_RESENDS`] times; one whose
    /// outcome is unknown, once, when repeating it is safe).
    fn judge(
        &self,
        cmd: &Cmd,
        sent: Result<Frame, Error>,
        retry: &mut Resends,
    ) -> Option<Result<Frame, Error>> {
        match sent {
            Err(Error::NotSent { cause })
                if retry.resends < MAX_RESENDS && !matches!(*cause, Error::Closed) =>
            {
                retry.resends += 1;
                observe::resend(&self.inner.opts, &self.inner.counters, &cause, retry.resends);
                None
            }
            Err(Error::OutcomeUnknown { cause }) if !retry.retried_unknown && is_safe_to_repeat(cmd) => {
                retry.retried_unknown = true;
                observe::resend(&self.inner.opts, &self.inner.counters, &cause, 1);
                None
            }
            other => Some(other),
        }
    }

    /// The hot path: queues `cmd` on the live connection at once (see
    /// [`Connection::try_send`]) and returns its reply's future; `None` when
    /// there is no live connection with room, or `cmd` blocks.
    #[inline]
    pub(crate) fn try_send<'a>(
        &self,
        cmd: &'a Cmd,
    ) -> Option<impl std::future::Future<Output = Result<Frame, Error>> + Send + 'a> {
        // The guard is dropped before the reply is awaited: it pins the
        // snapshot only while the command is queued.
        let cur = self.inner.current.load();
        cur.as_deref()?.try_send(cmd)
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`Reconnecting::send`], plus conversion errors.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn query<T: FromReply>(&self, cmd: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(cmd).await?)
    }

    /// What this handle went through: reconnects, failed connects, resends
    /// (the other fields of [`observe::Stats`] stay 0 here).
    pub fn stats(&self) -> observe::Stats {
        self.inner.counters.snapshot()
    }

    /// Why the last connection closed, if there was one.
    fn last_cause(&self) -> Option<Arc<Error>> {
        self.inner.current.load().as_deref().and_then(Connection::closed_reason)
    }

    /// True while the last attempt to connect failed (the node looks down).
    pub(crate) fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::Acquire)
    }

    /// Sends the setup commands on a new connection; an error reply fails the connect.
    async fn run_setup(&self, conn: &Connection) -> Result<(), Error> {
        let setup = self.inner.setup.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for c in &setup {
            conn.query::<()>(c).await?;
        }
        Ok(())
    }

    /// Adds a command sent on every new connection before any caller uses it
    /// (`CLIENT TRACKING ON ...`), and sends it on the current connection now,
    /// if there is one. The command's reply must be `+OK`.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`Reconnecting::close`]; the error (reply) of
    /// sending it on the current connection, in which case it is not kept.
    ///
    /// # Cancel safety
    /// Dropping the future may leave the command registered (it is then sent
    /// on the next connection) without having run on the current one.
    pub(crate) async fn add_setup(&self, c: Cmd) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        // Registered first: a connection opened from now on runs it too.
        self.register_setup(c.clone());
        let Some(conn) = self.live() else { return Ok(()) };
        let result: Result<(), Error> = conn.query(&c).await;
        if result.is_err() {
            let mut setup = self.inner.setup.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = setup.iter().rposition(|s| s.args().eq(c.args())) {
                setup.remove(i);
            }
        }
        result
    }

    /// Adds a setup command for the connections opened from now on, without
    /// sending it on the current one (for a handle not connected yet).
    pub(crate) fn register_setup(&self, c: Cmd) {
        self.inner.setup.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }

    /// True once [`Reconnecting::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Closes for good: the current connection closes (waiting commands fail
    /// with `NotSent` or `OutcomeUnknown`, cause [`Error::Closed`]), no new
    /// one is opened, and later calls fail with [`Error::Closed`]. Returns
    /// once the connection's driver tasks have ended. Every clone is closed.
    ///
    /// # Cancel safety
    /// The handle is closed at the first poll; dropping the future only
    /// stops waiting for the tasks.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        // Waits for a connect in progress, which sees the flag and stops.
        let _connecting = self.inner.connecting.lock().await;
        let current = self.inner.current.swap(None);
        if let Some(c) = current {
            c.close();
            c.stopped().await;
        }
    }

    /// Closes the current connection (the next command reconnects).
    /// Commands waiting on it fail with an IO error (`ConnectionAborted`)
    /// as the cause, not [`Error::Closed`]: the handle stays usable, so a
    /// router sends the never-sent ones again elsewhere.
    pub(crate) fn reset(&self) {
        if let Some(c) = self.inner.current.swap(None) {
            c.abandon("connection reset by the client");
        }
    }
}

fn reconnect_delay(failures: u32) -> Duration {
    crate::backoff::backoff(failures, MIN_RECONNECT_WAIT, MAX_RECONNECT_WAIT, rand::random::<u64>())
}

/// Commands that only read, or that the caller marked idempotent. The
/// command table is the pure one the router uses (`cmd::table`).
fn is_safe_to_repeat(cmd: &Cmd) -> bool {
    crate::cmd::is_retry_safe(cmd, &crate::cmd::command_info(cmd))
}
