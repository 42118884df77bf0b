//! One multiplexed, auto-pipelined connection shared by many tasks.
//!
//! Lives here: [`Connection`] (a cheap cloneable handle), its options, the
//! transport (TCP/Unix/TLS), the handshake and the driver tasks. A
//! `Connection` is one socket for its whole life: when it breaks it stays
//! closed and says why; reconnecting is the job of [`Reconnecting`] (in
//! `reconnect`), which the client and the pool use. Not here: routing, pools.
//!
//! # Failure semantics
//! - A command that was never written to the socket fails with
//!   [`Error::NotSent`]: it did not run, and is safe to send again.
//! - A command written but unanswered when the connection breaks fails with
//!   [`Error::OutcomeUnknown`]: it may have run.
//! - No reply for longer than the response timeout while commands wait closes
//!   the connection; its waiters fail with `OutcomeUnknown` (cause
//!   [`Error::Timeout`]) or `NotSent`.
//! - Malformed bytes from the server close the connection with
//!   [`Error::Protocol`] as the cause, for every waiter.
//! - Dropping a caller's future never desynchronises the connection: its
//!   reply is read and discarded.

mod driver;
mod handshake;
pub(crate) mod ledger;
mod options;
mod reconnect;
#[cfg(feature = "tls")]
mod tls;
mod transport;

use std::sync::Arc;

use bytes::BytesMut;

pub use driver::PushSink;
pub(crate) use driver::YieldOnce;
pub use options::{Address, ConnectOptions, Protocol, Roots, TlsOptions};
pub use reconnect::{OnConnect, Reconnecting};

use crate::cmd::{Cmd, FromReply};
use crate::error::Error;
use crate::resp::{Decoder, Frame};
use driver::Shared;

/// A handle to one multiplexed connection. Clones share the socket.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
    protocol: Protocol,
    /// Ends (`changed()` fails) once every driver task of this connection has ended.
    tasks: tokio::sync::watch::Receiver<()>,
}

/// Held by each driver task: the last one to end drops the sender, which
/// tells [`Connection::stopped`] that nothing of the connection runs any more.
struct TaskGuard(#[allow(dead_code)] tokio::sync::watch::Sender<()>);

/// Closes the connection when the last handle goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.fail(Error::Closed);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("protocol", &self.protocol)
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}

impl Connection {
    /// Connects, runs the handshake and starts the driver tasks. Push frames
    /// (RESP3) go to `push`, or are dropped when it is `None`.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::ConnectTimeout`] past `opts.connect_timeout`; [`Error::Io`],
    /// [`Error::Tls`], [`Error::Auth`] or [`Error::Server`] from the steps.
    ///
    /// # Cancel safety
    /// Dropping the future drops the half-open socket; nothing leaks.
    pub async fn connect(opts: &ConnectOptions, push: Option<PushSink>) -> Result<Connection, Error> {
        Connection::open(opts, push, false).await
    }

    /// Connects as [`Connection::connect`], for pub/sub: on RESP2 the
    /// connection is dedicated, and the arrays a subscribed RESP2 connection
    /// sends (`["message", channel, payload]` ...) go to `push` like RESP3
    /// push frames. Use [`Connection::send_confirmed`] for (un)subscribe
    /// commands; other commands (PING) work as usual.
    ///
    /// # Errors
    /// As [`Connection::connect`].
    ///
    /// # Cancel safety
    /// As [`Connection::connect`].
    pub(crate) async fn connect_pubsub(opts: &ConnectOptions, push: PushSink) -> Result<Connection, Error> {
        Connection::open(opts, Some(push), true).await
    }

    async fn open(opts: &ConnectOptions, push: Option<PushSink>, pubsub: bool) -> Result<Connection, Error> {
        let setup = async {
            let mut transport = transport::connect(opts).await?;
            let mut decoder = Decoder::with_limits(opts.limits).keep_double_text(opts.keep_double_text);
            let mut rbuf = BytesMut::with_capacity(16 * 1024);
            let negotiated = handshake::handshake(&mut transport, opts, &mut decoder, &mut rbuf).await?;
            Ok::<_, Error>((transport, decoder, rbuf, negotiated))
        };
        let started = crate::observe::now();
        let setup =
            tokio::time::timeout(opts.connect_timeout, setup).await.unwrap_or(Err(Error::ConnectTimeout));
        crate::observe::connect_result(opts, started, &setup);
        let (transport, decoder, rbuf, negotiated) = setup?;
        let shared = Shared::new(opts.max_in_flight, opts.max_write_buffer);
        let (r, w, abort) = transport.split();
        // RESP3 tells pushes from replies by type; RESP2 needs the pub/sub mode.
        let pubsub_mode = pubsub && negotiated.protocol == Protocol::Resp2;
        let (alive, tasks) = tokio::sync::watch::channel(());
        let guard = Arc::new(TaskGuard(alive));
        let g = guard.clone();
        let reader = driver::run_reader(shared.clone(), r, decoder, rbuf, push, pubsub_mode);
        let reader = tokio::spawn(async move {
            let _g = g;
            reader.await
        });
        let g = guard.clone();
        let writer = driver::run_writer(shared.clone(), w, abort, reader.abort_handle());
        tokio::spawn(async move {
            let _g = g;
            writer.await
        });
        if let Some(timeout) = opts.response_timeout {
            let watchdog = driver::run_watchdog(Arc::downgrade(&shared), timeout);
            // Ends at the close, not at the watchdog's next tick (the writer
            // holds the same `Arc` until then, so this keeps nothing alive).
            let closing = shared.clone();
            let node = crate::observe::node_label(opts);
            tokio::spawn(async move {
                let _g = guard;
                tokio::select! {
                    true = watchdog => crate::observe::watchdog_closed(&node, timeout),
                    () = closing.wait_closed() => {}
                }
            });
        }
        Ok(Connection {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
            protocol: negotiated.protocol,
            tasks,
        })
    }

    /// Sends one command and waits for its reply frame (errors from the server
    /// come back as `Ok(Frame::SimpleError)`; use [`Connection::query`] for typed results).
    ///
    /// # Errors
    /// See the module's failure semantics.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future abandons the reply, which the driver
    /// reads and discards; the connection stays in sync.
    pub async fn send(&self, cmd: &Cmd) -> Result<Frame, Error> {
        let _blocking = cmd.is_blocking().then(|| self.shared.blocking_guard());
        let probe = crate::observe::CommandProbe::start(cmd);
        let reply = match self.shared.enqueue(std::slice::from_ref(cmd)).await {
            Ok(rx) => rx.await.unwrap_or_else(|_| Err(self.lost())),
            Err(e) => Err(e),
        };
        probe.finish(reply)
    }

    /// The hot path of [`Connection::send`]: when this connection is open,
    /// has room and `cmd` is not blocking, queues `cmd` at once and returns
    /// the future of its reply, which holds no handle to the connection (no
    /// reference count is taken per command). `None` otherwise, with nothing
    /// queued: use [`Connection::send`], which waits for room or reports why
    /// not. Errors and cancel safety of the returned future as [`Connection::send`].
    #[inline]
    pub(crate) fn try_send<'a>(
        &self,
        cmd: &'a Cmd,
    ) -> Option<impl std::future::Future<Output = Result<Frame, Error>> + Send + 'a> {
        if cmd.is_blocking() {
            return None;
        }
        let rx = self.shared.try_enqueue(cmd)?;
        let probe = crate::observe::CommandProbe::start(cmd);
        Some(async move {
            // The reader or the close completes every waiter; a waiter
            // dropped unanswered means the connection went away.
            let reply =
                rx.await.unwrap_or_else(|_| Err(Error::OutcomeUnknown { cause: Arc::new(Error::Closed) }));
            probe.finish(reply)
        })
    }

    /// Sends a pub/sub (un)subscribe command, which the server answers with
    /// one confirmation per name instead of a reply: `kind` is the lowercase
    /// confirmation name (`b"subscribe"`, `b"sunsubscribe"` ...) and `names`
    /// the names the command carries. Returns the confirmations as one
    /// `Frame::Array` once all have arrived, or the error reply. Confirmations
    /// are recognised on any RESP3 connection, and on RESP2 only on a
    /// connection from [`Connection::connect_pubsub`].
    ///
    /// `names` must not be empty: an unsubscribe-from-everything has no names
    /// to wait for.
    ///
    /// # Errors
    /// As [`Connection::send`].
    ///
    /// # Cancel safety
    /// As [`Connection::send`].
    pub(crate) async fn send_confirmed(
        &self,
        cmd: &Cmd,
        kind: &'static [u8],
        names: Vec<bytes::Bytes>,
    ) -> Result<Frame, Error> {
        if names.is_empty() {
            return Err(Error::InvalidArgument(
                "a pub/sub command needs at least one name to confirm".into(),
            ));
        }
        let confirm = driver::Confirm::new(kind, names);
        let rx = self.shared.enqueue_confirmed(confirm, cmd).await?;
        match rx.await {
            Ok(reply) => reply,
            Err(_) => Err(self.lost()),
        }
    }

    /// Resolves once this connection is closed, for whatever reason (at once
    /// if it already is). The future does not keep the connection open.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move { shared.wait_closed().await }
    }

    /// Resolves once this connection is closed and every task driving it (reader,
    /// writer, watchdog) has ended: after it, nothing of the connection runs.
    /// The watchdog notices a close at its next tick (an eighth of the
    /// response timeout), an orderly close flushes for at most a second.
    ///
    /// # Cancel safety
    /// Cancel-safe; it only waits.
    pub async fn stopped(&self) {
        let mut tasks = self.tasks.clone();
        while tasks.changed().await.is_ok() {}
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`Connection::send`], plus [`Error::Server`] for an error reply and
    /// [`Error::Type`] for a reply of another shape.
    ///
    /// # Cancel safety
    /// As [`Connection::send`].
    pub async fn query<T: FromReply>(&self, cmd: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(cmd).await?)
    }

    /// Sends several commands in one write and waits for all their replies,
    /// returned in order (error replies included as frames). No other
    /// caller's command is interleaved between them.
    ///
    /// # Errors
    /// As [`Connection::send`]: `NotSent` when no command of the pipeline
    /// left the process, `OutcomeUnknown` when all did and none was answered,
    /// and [`Error::PipelineIncomplete`] when the connection broke part-way:
    /// it carries the replies received, how many commands after them may have
    /// run, and how many at the end were never sent.
    ///
    /// # Cancel safety
    /// As [`Connection::send`].
    pub async fn send_pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let n = cmds.len();
        let result = self.pipeline_frames(cmds).await;
        crate::observe::pipeline_done(n, &result);
        result
    }

    async fn pipeline_frames(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        let n = cmds.len();
        let rx = self.shared.enqueue(cmds).await?;
        let frame = match rx.await {
            Ok(reply) => reply?,
            Err(_) => return Err(self.lost()),
        };
        match frame {
            Frame::Array(frames) if n > 1 => Ok(frames),
            single => Ok(vec![single]),
        }
    }

    /// Runs `cmds` inside `MULTI` / `EXEC` atomically and returns EXEC's
    /// replies (one per command). A command the server refused to queue
    /// aborts the transaction: the error says which.
    ///
    /// # Errors
    /// [`Error::TransactionDiscarded`] when `EXEC` replied `EXECABORT` (with
    /// the queueing error that caused it), [`Error::Server`] for a queueing
    /// error alone, [`Error::TransactionAborted`] when a `WATCH`ed key changed
    /// (on an exclusive connection); otherwise as [`Connection::send_pipeline`].
    ///
    /// # Cancel safety
    /// As [`Connection::send`]: the whole transaction is in one write.
    pub async fn transaction(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        let mut all = Vec::with_capacity(cmds.len() + 2);
        all.push(crate::cmd::cmd("MULTI"));
        all.extend(cmds.iter().cloned());
        all.push(crate::cmd::cmd("EXEC"));
        let mut replies = match self.send_pipeline(&all).await {
            Ok(replies) => replies,
            // Nothing runs before EXEC: a transaction whose EXEC never left
            // the process did not happen, whatever was sent before it.
            Err(Error::PipelineIncomplete { not_sent, cause, .. }) if not_sent > 0 => {
                return Err(Error::NotSent { cause });
            }
            Err(e) => return Err(e),
        };
        let exec = replies.pop().unwrap_or(Frame::Null);
        for r in replies.iter().skip(1) {
            if let Frame::SimpleError(e) | Frame::BlobError(e) = r {
                if let Frame::SimpleError(exec_err) | Frame::BlobError(exec_err) = &exec {
                    return Err(Error::TransactionDiscarded { exec: exec_err.clone(), queued: e.clone() });
                }
                return Err(Error::Server(e.clone()));
            }
        }
        match exec {
            Frame::Array(items) => Ok(items),
            Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e)),
            f if f.is_null() => Err(Error::TransactionAborted { attempts: 1 }),
            other => Err(Error::Type { expected: "EXEC array", got: other.type_name().into() }),
        }
    }

    fn lost(&self) -> Error {
        match self.shared.closed_reason() {
            Some(cause) => Error::OutcomeUnknown { cause },
            None => Error::Closed,
        }
    }

    /// True once the connection broke or was closed; it never reopens.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Why the connection closed, if it did.
    pub fn closed_reason(&self) -> Option<Arc<Error>> {
        self.shared.closed_reason()
    }

    /// Commands sent or queued and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Bytes of queued commands not yet handed to the socket (bounded by
    /// [`ConnectOptions::max_write_buffer`]).
    pub fn unwritten_bytes(&self) -> usize {
        self.shared.unwritten_bytes()
    }

    /// The protocol the handshake settled on.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Closes the connection now because the client gave it up (its node
    /// left the topology): waiting commands fail `NotSent` or
    /// `OutcomeUnknown` with an IO error of kind `ConnectionAborted` as the
    /// cause, which routers treat as a node gone, not as the client closed.
    pub(crate) fn abandon(&self, why: &'static str) {
        self.shared.fail(Error::from(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, why)));
    }

    /// Closes the connection now: waiting commands fail (`NotSent` or
    /// `OutcomeUnknown`, cause [`Error::Closed`]).
    pub fn close(&self) {
        self.shared.fail(Error::Closed);
    }
}
