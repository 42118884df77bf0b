//! The driver of one multiplexed connection: the shared queue, the writer, the
//! reader and the stall watchdog.
//!
//! How a command travels: the caller locks [`Shared::state`], appends the
//! command's bytes to the write buffer and its waiter to the queue (the same
//! lock orders both, so replies match callers), and wakes the writer if the
//! buffer was empty. The writer swaps the whole buffer out and writes it with
//! as few syscalls as the socket allows: every command queued meanwhile shares
//! the write (auto-pipelining). The reader decodes every frame available,
//! locks once, pops the matching waiters and completes them outside the lock.
//! Push frames go to the push sink, never to a waiter.
//!
//! Pub/sub: an (un)subscribe command is answered not by a reply but by one
//! confirmation per name (`["subscribe", name, count]`), as push frames on
//! RESP3, as plain arrays on RESP2. Its waiter carries a [`Confirm`] and is
//! completed by those confirmations; confirmations nobody waits for (the
//! server's own `sunsubscribe` when a slot moves away) go to the push sink. A
//! connection opened in pub/sub mode also treats RESP2 arrays that start with
//! a pub/sub kind (`message`, `subscribe` ...) as push frames: on a RESP2
//! connection in subscribed state that is what they are. Normal connections
//! pay one branch per push frame and nothing per reply.
//!
//! Failure, and the exactly-once rule: every write attempt happens under the
//! gate lock and enters the bytes the socket accepted in the write ledger
//! (`ledger`) before the lock is released; closing takes the same lock, marks
//! the gate closed and reads the ledger. So when the socket breaks, a waiter
//! any byte of whose command was handed to the socket gets
//! [`Error::OutcomeUnknown`], one none of whose bytes left the process gets
//! [`Error::NotSent`] (safe to send again), a pipeline in between gets
//! [`Error::PipelineIncomplete`], and the writer writes nothing more; on any
//! close but an orderly one the socket is reset (`SO_LINGER 0`) so the kernel
//! drops what it still holds.
//!
//! Bounds: at most `max_in_flight` waiters and about `max_write_buffer`
//! unwritten bytes are queued (callers wait beyond that). A watchdog (one
//! timer per connection, not per command) closes the connection when
//! commands wait and nothing moves (no reply, no byte of an incomplete
//! frame read, nothing written) for the response timeout, or when the socket accepts nothing of a pending
//! write for that long; a large reply trickling in keeps it alive. Not here:
//! the handshake, TLS, reconnecting.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, Notify};

use super::ledger::{fate, Fate, WriteLedger};
use super::transport::{ReadHalf, SocketAbort, WriteHalf};
use crate::cmd::Cmd;
use crate::error::Error;
use crate::resp::{Decoder, Frame};

/// Where push frames (RESP3 `>`) go: called on the reader task, must not block.
pub type PushSink = Arc<dyn Fn(Frame) + Send + Sync>;

pub(crate) type ReplySender = oneshot::Sender<Result<Frame, Error>>;

struct Waiter {
    tx: ReplySender,
    /// Frames that make up the reply: 1 for a command, N for a pipeline
    /// (delivered as one `Frame::Array`).
    frames: u32,
    /// For a pub/sub (un)subscribe command: the confirmations it waits for.
    confirm: Option<Box<Confirm>>,
}

/// The confirmations an (un)subscribe command waits for: one per name, whose
/// first element is `kind` (`subscribe`, `sunsubscribe` ...). The waiter gets
/// them as one `Frame::Array`, in arrival order; an error reply instead
/// completes it at once.
#[derive(Debug)]
pub(crate) struct Confirm {
    kind: &'static [u8],
    pending: Vec<bytes::Bytes>,
    got: Vec<Frame>,
}

impl Confirm {
    /// Waits for one `kind` confirmation per entry of `names` (a name given twice waits for two).
    pub(crate) fn new(kind: &'static [u8], names: Vec<bytes::Bytes>) -> Confirm {
        let got = Vec::with_capacity(names.len());
        Confirm { kind, pending: names, got }
    }
}

/// The first elements of the arrays a RESP2 connection sends in subscribed state.
const PUBSUB_KINDS: [&[u8]; 9] = [
    b"message",
    b"pmessage",
    b"smessage",
    b"subscribe",
    b"unsubscribe",
    b"psubscribe",
    b"punsubscribe",
    b"ssubscribe",
    b"sunsubscribe",
];

/// True for a push frame, and, in pub/sub mode, for a RESP2 array that starts
/// with a pub/sub kind.
fn is_pubsub_frame(frame: &Frame, pubsub_mode: bool) -> bool {
    match frame {
        Frame::Push(_) => true,
        Frame::Array(items) if pubsub_mode => {
            matches!(items.first(), Some(Frame::BulkString(kind)) if PUBSUB_KINDS.contains(&&kind[..]))
        }
        _ => false,
    }
}

/// Gives a pub/sub frame to the front waiter when it is one of the
/// confirmations that waiter expects (completing it with the last one);
/// otherwise hands the frame back, for the push sink.
fn offer_confirmation(
    st: &mut State,
    frame: Frame,
    done: &mut Vec<(ReplySender, Result<Frame, Error>)>,
) -> Option<Frame> {
    let Some(confirm) = st.queue.front_mut().and_then(|w| w.confirm.as_mut()) else {
        return Some(frame);
    };
    let position = match &frame {
        Frame::Push(items) | Frame::Array(items) => match (items.first(), items.get(1)) {
            (Some(kind), Some(name)) if kind.as_bytes().is_some_and(|k| k[..] == *confirm.kind) => {
                name.as_bytes().and_then(|name| confirm.pending.iter().position(|p| p == name))
            }
            _ => None,
        },
        _ => None,
    };
    let Some(position) = position else { return Some(frame) };
    confirm.pending.swap_remove(position);
    confirm.got.push(frame);
    if confirm.pending.is_empty() {
        if let Some(w) = st.queue.pop_front() {
            st.head_seq += u64::from(w.frames);
            let got = w.confirm.map(|c| c.got).unwrap_or_default();
            done.push((w.tx, Ok(Frame::Array(got))));
        }
    }
    None
}

pub(crate) struct State {
    /// Encoded commands not yet taken by the writer.
    wbuf: BytesMut,
    /// Encoded length of each command in `wbuf`, in order.
    wlens: Vec<u32>,
    /// Waiters in send order; the front is the next reply's owner.
    queue: VecDeque<Waiter>,
    /// Number of the front waiter's first command (commands are numbered
    /// from 0 in send order; a pipeline of `n` takes `n` numbers).
    head_seq: u64,
    /// Number of the first command not yet taken by the writer.
    taken_seq: u64,
    /// Replies received so far for the front waiter, when it is a pipeline.
    partial: Vec<Frame>,
    /// Set once: why the connection is closed.
    closed: Option<Arc<Error>>,
}

/// What the writer has handed to the socket. Its lock is held across each
/// (non-blocking) write attempt and by [`Shared::fail`], so no byte is written
/// after the close and every byte written before it is accounted.
struct Gate {
    ledger: WriteLedger,
    closed: bool,
    /// The writer's waker while a write waits for the socket: the close wakes it.
    waker: Option<Waker>,
}

/// State shared by the handles, the writer, the reader and the watchdog.
pub(crate) struct Shared {
    state: Mutex<State>,
    gate: Mutex<Gate>,
    wake_writer: Notify,
    space: Notify,
    waiting_for_space: AtomicUsize,
    /// Bytes queued and not yet handed to the socket (back-pressure).
    unwritten: AtomicUsize,
    /// Count of replies received: the watchdog's measure of progress.
    replies: AtomicU64,
    /// Count of reads that added to a frame still incomplete: a reply
    /// trickling in is progress.
    reads: AtomicU64,
    /// Count of writes that handed bytes to the socket.
    writes: AtomicU64,
    /// True while the writer holds a batch not yet fully handed over.
    writing: AtomicBool,
    /// Blocking commands in flight: the watchdog leaves the connection alone.
    blocking: AtomicUsize,
    is_closed: AtomicBool,
    /// Woken once, when the connection closes.
    closed_notify: Notify,
    max_in_flight: usize,
    max_write_buffer: usize,
}

/// Decrements `waiting_for_space` however the wait ends (cancellation included).
struct SpaceWait<'a>(&'a AtomicUsize);

impl Drop for SpaceWait<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(crate) fn new(max_in_flight: usize, max_write_buffer: usize) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                wbuf: BytesMut::with_capacity(16 * 1024),
                wlens: Vec::with_capacity(64),
                queue: VecDeque::with_capacity(64),
                head_seq: 0,
                taken_seq: 0,
                partial: Vec::new(),
                closed: None,
            }),
            gate: Mutex::new(Gate { ledger: WriteLedger::default(), closed: false, waker: None }),
            wake_writer: Notify::new(),
            space: Notify::new(),
            waiting_for_space: AtomicUsize::new(0),
            unwritten: AtomicUsize::new(0),
            replies: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            writing: AtomicBool::new(false),
            blocking: AtomicUsize::new(0),
            is_closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            max_in_flight: max_in_flight.max(1),
            max_write_buffer: max_write_buffer.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated
        // in a way that matters more than losing the connection: recover.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::Acquire)
    }

    /// Resolves once the connection is closed (at once if it already is).
    pub(crate) async fn wait_closed(&self) {
        let notified = self.closed_notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a close in between is not missed.
        notified.as_mut().enable();
        if self.is_closed() {
            return;
        }
        notified.await;
    }

    /// Why the connection closed, if it did.
    pub(crate) fn closed_reason(&self) -> Option<Arc<Error>> {
        self.lock().closed.clone()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.lock().queue.len()
    }

    /// Bytes queued and not yet handed to the socket.
    pub(crate) fn unwritten_bytes(&self) -> usize {
        self.unwritten.load(Ordering::Acquire)
    }

    pub(crate) fn blocking_guard(self: &Arc<Self>) -> BlockingGuard {
        self.blocking.fetch_add(1, Ordering::AcqRel);
        BlockingGuard(self.clone())
    }

    /// Queues commands (one, or a pipeline answered as one `Frame::Array`)
    /// and returns the reply receiver. Waits while `max_in_flight` waiters
    /// are queued or the unwritten bytes would pass `max_write_buffer`
    /// (back-pressure; a command larger than the limit still goes when
    /// nothing else is unwritten).
    ///
    /// Cancel safety: dropping the future before it returns queues nothing;
    /// after it returns, the reply is simply discarded when it arrives.
    pub(crate) async fn enqueue(
        &self,
        cmds: &[Cmd],
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        self.enqueue_waiter(cmds, None).await
    }

    /// As [`Shared::enqueue`], for a command answered by pub/sub confirmations.
    pub(crate) async fn enqueue_confirmed(
        &self,
        confirm: Confirm,
        cmd: &Cmd,
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        self.enqueue_waiter(std::slice::from_ref(cmd), Some(Box::new(confirm))).await
    }

    fn has_space(&self, st: &State, len: usize) -> bool {
        if st.queue.len() >= self.max_in_flight {
            return false;
        }
        let unwritten = self.unwritten.load(Ordering::SeqCst);
        unwritten == 0 || unwritten.saturating_add(len) <= self.max_write_buffer
    }

    /// Queues one command at once when the connection is open and has room
    /// (the hot path, with no future to poll); `None` when it is closed or
    /// full, for [`Shared::enqueue`] to handle. Cancel safety as there.
    #[inline]
    pub(crate) fn try_enqueue(&self, cmd: &Cmd) -> Option<oneshot::Receiver<Result<Frame, Error>>> {
        let len = cmd.encoded_len();
        let st = self.lock();
        if st.closed.is_some() || !self.has_space(&st, len) {
            return None;
        }
        Some(self.push_locked(st, std::slice::from_ref(cmd), 1, len, None))
    }

    /// Appends `cmds` (`len` encoded bytes, `count` commands) and their
    /// waiter under the state lock, then releases it and wakes the writer
    /// if it had nothing to write.
    fn push_locked(
        &self,
        mut st: MutexGuard<'_, State>,
        cmds: &[Cmd],
        count: u32,
        len: usize,
        confirm: Option<Box<Confirm>>,
    ) -> oneshot::Receiver<Result<Frame, Error>> {
        let (tx, rx) = oneshot::channel();
        let was_empty = st.wbuf.is_empty();
        for c in cmds {
            let before = st.wbuf.len();
            c.write_to(&mut st.wbuf);
            let written = st.wbuf.len() - before;
            st.wlens.push(u32::try_from(written).unwrap_or(u32::MAX));
        }
        self.unwritten.fetch_add(len, Ordering::SeqCst);
        st.queue.push_back(Waiter { tx, frames: count, confirm });
        drop(st);
        if was_empty {
            self.wake_writer.notify_one();
        }
        rx
    }

    async fn enqueue_waiter(
        &self,
        cmds: &[Cmd],
        mut confirm: Option<Box<Confirm>>,
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        let count =
            u32::try_from(cmds.len()).map_err(|_| Error::InvalidArgument("pipeline too long".into()))?;
        let len: usize = cmds.iter().map(Cmd::encoded_len).sum();
        loop {
            {
                let st = self.lock();
                if let Some(cause) = &st.closed {
                    return Err(Error::NotSent { cause: cause.clone() });
                }
                if self.has_space(&st, len) {
                    return Ok(self.push_locked(st, cmds, count, len, confirm.take()));
                }
            }
            // Register for a wake-up, then look again: a reply or a write
            // that made room in between is not missed.
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.waiting_for_space.fetch_add(1, Ordering::SeqCst);
            let _wait = SpaceWait(&self.waiting_for_space);
            let ready = {
                let st = self.lock();
                st.closed.is_some() || self.has_space(&st, len)
            };
            if !ready {
                notified.await;
            }
        }
    }

    /// Closes the connection: every waiter learns the fate of its commands
    /// from the write ledger (see `ledger`): `OutcomeUnknown` when any byte
    /// of it was handed to the socket, `NotSent` when none was, and
    /// [`Error::PipelineIncomplete`] for a pipeline in between. The writer
    /// writes nothing more. Tasks are woken so they exit. Idempotent.
    pub(crate) fn fail(&self, error: Error) {
        let cause = Arc::new(error);
        let (queue, head_seq, partial, sent, waker, unanswered) = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return;
            }
            st.closed = Some(cause.clone());
            self.is_closed.store(true, Ordering::Release);
            // Written and unanswered: no longer in flight (counted below).
            let unanswered = st.taken_seq - st.head_seq;
            st.wbuf.clear();
            st.wlens.clear();
            // Lock order: state, then gate. Closing the gate and reading the
            // ledger in one step: nothing is written after this point.
            let (sent, waker) = {
                let mut gate = self.lock_gate();
                gate.closed = true;
                (gate.ledger.sent(), gate.waker.take())
            };
            (
                std::mem::take(&mut st.queue),
                st.head_seq,
                std::mem::take(&mut st.partial),
                sent,
                waker,
                unanswered,
            )
        };
        crate::observe::in_flight(-(unanswered as i64));
        if let Some(w) = waker {
            w.wake();
        }
        let mut first = head_seq;
        let mut partial = Some(partial);
        for w in queue {
            let answered = partial.take().unwrap_or_default();
            let err = failure_for(first, w.frames, sent, answered, &cause);
            first += u64::from(w.frames);
            let _ = w.tx.send(Err(err));
        }
        self.wake_writer.notify_one();
        self.space.notify_waiters();
        self.closed_notify.notify_waiters();
    }

    /// One write attempt of the writer, under the gate: refused once the
    /// connection is closed; accepted bytes are entered in the ledger before
    /// the gate is released.
    fn poll_write_gated(
        &self,
        cx: &mut Context<'_>,
        w: &mut WriteHalf,
        bytes: &[u8],
        lens: &[u32],
    ) -> Poll<Result<usize, Option<Error>>> {
        let mut gate = self.lock_gate();
        if gate.closed {
            return Poll::Ready(Err(None));
        }
        match Pin::new(w).poll_write(cx, bytes) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(Some(Error::from(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "socket accepted no bytes",
            ))))),
            Poll::Ready(Ok(n)) => {
                gate.ledger.accepted(n, lens);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Some(super::transport::stream_error(e)))),
            Poll::Pending => {
                if !gate.waker.as_ref().is_some_and(|old| old.will_wake(cx.waker())) {
                    gate.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Flushes what the TLS layer holds, under the gate (stops at the close).
    fn poll_flush_gated(&self, cx: &mut Context<'_>, w: &mut WriteHalf) -> Poll<Result<(), Option<Error>>> {
        let mut gate = self.lock_gate();
        if gate.closed {
            return Poll::Ready(Err(None));
        }
        match Pin::new(w).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(Some(super::transport::stream_error(e)))),
            Poll::Pending => {
                if !gate.waker.as_ref().is_some_and(|old| old.will_wake(cx.waker())) {
                    gate.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    fn begin_batch(&self, first: u64) {
        self.lock_gate().ledger.begin(first);
    }
}

/// The error a waiter gets when the connection fails: `first` is its first
/// command's number, `count` its commands, `sent` the ledger's count, and
/// `answered` the replies already received (for a pipeline at the front).
fn failure_for(first: u64, count: u32, sent: u64, answered: Vec<Frame>, cause: &Arc<Error>) -> Error {
    let answered_n = u32::try_from(answered.len()).unwrap_or(u32::MAX).min(count);
    match fate(first, count, sent) {
        Fate::NotSent => Error::NotSent { cause: cause.clone() },
        Fate::Unknown if answered_n == 0 => Error::OutcomeUnknown { cause: cause.clone() },
        Fate::Unknown => Error::PipelineIncomplete {
            replies: answered,
            unknown: count - answered_n,
            not_sent: 0,
            cause: cause.clone(),
        },
        Fate::Partial { sent } => {
            let sent = sent.max(answered_n);
            Error::PipelineIncomplete {
                replies: answered,
                unknown: sent - answered_n,
                not_sent: count - sent,
                cause: cause.clone(),
            }
        }
    }
}

/// Marks a blocking command in flight for as long as it lives.
pub(crate) struct BlockingGuard(Arc<Shared>);

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.0.blocking.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a graceful close (after [`Error::Closed`]) may take to flush.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(1);

/// The writer task: takes the whole write buffer and hands it to the socket,
/// entering every accepted byte in the ledger. Stops at once when the
/// connection closes; on any close but an orderly one, the socket is reset
/// (`SO_LINGER 0`) so the kernel does not deliver what it still holds.
pub(crate) async fn run_writer(
    shared: Arc<Shared>,
    mut w: WriteHalf,
    abort: SocketAbort,
    reader: tokio::task::AbortHandle,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut lens: Vec<u32> = Vec::with_capacity(64);
    loop {
        let start_seq = {
            let mut st = shared.lock();
            if st.closed.is_some() {
                break;
            }
            if st.wbuf.is_empty() {
                None
            } else {
                std::mem::swap(&mut st.wbuf, &mut buf);
                std::mem::swap(&mut st.wlens, &mut lens);
                let start = st.taken_seq;
                st.taken_seq += lens.len() as u64;
                Some(start)
            }
        };
        // Outside the lock; the gauge's moves add up whatever their order.
        crate::observe::in_flight(if start_seq.is_some() { lens.len() as i64 } else { 0 });
        let Some(start_seq) = start_seq else {
            shared.wake_writer.notified().await;
            // Let callers woken by the same reply batch queue their next
            // commands first, so that they share this write.
            YieldOnce(false).await;
            continue;
        };
        shared.begin_batch(start_seq);
        shared.writing.store(true, Ordering::Release);
        let mut off = 0usize;
        let mut outcome: Result<(), Option<Error>> = Ok(());
        while off < buf.len() {
            match std::future::poll_fn(|cx| shared.poll_write_gated(cx, &mut w, &buf[off..], &lens)).await {
                Ok(n) => {
                    off += n;
                    shared.unwritten.fetch_sub(n, Ordering::SeqCst);
                    shared.writes.fetch_add(1, Ordering::Release);
                    if shared.waiting_for_space.load(Ordering::SeqCst) > 0 {
                        shared.space.notify_waiters();
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // TLS may accept plaintext while the socket is full and keep the
        // encrypted bytes: flush, or they wait for the next command (a no-op on TCP).
        if outcome.is_ok() {
            outcome = std::future::poll_fn(|cx| shared.poll_flush_gated(cx, &mut w)).await;
        }
        shared.writing.store(false, Ordering::Release);
        buf.clear();
        lens.clear();
        match outcome {
            Ok(()) => {}
            Err(Some(e)) => {
                shared.fail(e);
                break;
            }
            Err(None) => break,
        }
    }
    reader.abort();
    let orderly = matches!(shared.closed_reason().as_deref(), Some(Error::Closed));
    if orderly {
        let _ = tokio::time::timeout(GRACEFUL_SHUTDOWN, w.shutdown()).await;
    } else {
        abort.reset();
        w.abandon();
    }
}

/// Goes to the back of the run queue once, behind the tasks already woken
/// (the callers a reply batch woke), and resumes after them. Unlike
/// `tokio::task::yield_now`, which defers the task until the runtime has
/// polled the IO driver, it costs no `epoll_wait` per batch.
pub(crate) struct YieldOnce(pub(crate) bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        // A task woken while it runs is queued behind the others (tokio's
        // "notified while running" path), not run again at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The reader task: decodes replies and completes waiters in order.
pub(crate) async fn run_reader(
    shared: Arc<Shared>,
    mut r: ReadHalf,
    mut decoder: Decoder,
    mut rbuf: BytesMut,
    push: Option<PushSink>,
    pubsub_mode: bool,
) {
    let mut frames: Vec<Frame> = Vec::with_capacity(64);
    let mut done: Vec<(ReplySender, Result<Frame, Error>)> = Vec::with_capacity(64);
    let mut fresh = false;
    loop {
        loop {
            match decoder.decode(&mut rbuf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    let _ = dispatch(&shared, &mut frames, &mut done, push.as_ref(), pubsub_mode);
                    complete(&mut done);
                    shared.fail(Error::Protocol(e));
                    return;
                }
            }
        }
        if !frames.is_empty() {
            if let Err(e) = dispatch(&shared, &mut frames, &mut done, push.as_ref(), pubsub_mode) {
                complete(&mut done);
                shared.fail(e);
                return;
            }
            complete(&mut done);
        }
        // New bytes of a frame still incomplete: a reply trickling in is
        // progress for the watchdog (complete push frames are not).
        if fresh && !rbuf.is_empty() {
            shared.reads.fetch_add(1, Ordering::Release);
        }
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(64 * 1024);
        }
        match r.read_buf(&mut rbuf).await {
            Ok(0) => {
                shared.fail(Error::from(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )));
                return;
            }
            Ok(_) => fresh = true,
            Err(e) => {
                shared.fail(super::transport::stream_error(e));
                return;
            }
        }
    }
}

fn dispatch(
    shared: &Shared,
    frames: &mut Vec<Frame>,
    done: &mut Vec<(ReplySender, Result<Frame, Error>)>,
    push: Option<&PushSink>,
    pubsub_mode: bool,
) -> Result<(), Error> {
    let mut replies = 0u64;
    let answered;
    let mut result = Ok(());
    {
        let mut st = shared.lock();
        let head_before = st.head_seq;
        for frame in frames.drain(..) {
            if is_pubsub_frame(&frame, pubsub_mode) {
                match offer_confirmation(&mut st, frame, done) {
                    None => replies += 1,
                    Some(frame) => {
                        if let Some(sink) = push {
                            sink(frame);
                        }
                    }
                }
                continue;
            }
            replies += 1;
            let Some(front) = st.queue.front() else {
                result = Err(Error::UnexpectedReply {
                    what: "the server sent a reply no command was waiting for",
                });
                break;
            };
            if front.frames <= 1 && st.partial.is_empty() {
                if let Some(w) = st.queue.pop_front() {
                    st.head_seq += u64::from(w.frames);
                    done.push((w.tx, Ok(frame)));
                }
            } else {
                let want = front.frames as usize;
                st.partial.push(frame);
                if st.partial.len() >= want {
                    if let Some(w) = st.queue.pop_front() {
                        st.head_seq += u64::from(w.frames);
                        let replies = std::mem::take(&mut st.partial);
                        done.push((w.tx, Ok(Frame::Array(replies))));
                    }
                }
            }
        }
        answered = st.head_seq - head_before;
    }
    crate::observe::in_flight(-(answered as i64));
    if replies > 0 {
        shared.replies.fetch_add(replies, Ordering::Release);
        if shared.waiting_for_space.load(Ordering::Acquire) > 0 {
            shared.space.notify_waiters();
        }
    }
    result
}

fn complete(done: &mut Vec<(ReplySender, Result<Frame, Error>)>) {
    for (tx, reply) in done.drain(..) {
        // The caller may have gone away (timeout, cancelled): the reply is dropped.
        let _ = tx.send(reply);
    }
}

/// The watchdog: closes the connection when it stops making progress while
/// commands wait (no reply, no byte read, nothing written, for the response
/// timeout), and when the socket has accepted nothing of a pending write for
/// the response timeout (a server that stopped reading), blocking commands or not.
pub(crate) async fn run_watchdog(shared: Weak<Shared>, timeout: Duration) -> bool {
    let tick = (timeout / 8).max(Duration::from_millis(5));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    let mut last_writes = u64::MAX;
    let mut stalled = Duration::ZERO;
    let mut write_stalled = Duration::ZERO;
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else { return false };
        if shared.is_closed() {
            return false;
        }
        let writes = shared.writes.load(Ordering::Acquire);
        let (head, waiting) = {
            let st = shared.lock();
            (st.head_seq, !st.queue.is_empty())
        };
        let progress =
            (shared.replies.load(Ordering::Acquire), shared.reads.load(Ordering::Acquire), writes, head);
        let blocking = shared.blocking.load(Ordering::Acquire) > 0;
        if waiting && !blocking && progress == last {
            stalled += tick;
        } else {
            stalled = Duration::ZERO;
        }
        if shared.writing.load(Ordering::Acquire) && writes == last_writes {
            write_stalled += tick;
        } else {
            write_stalled = Duration::ZERO;
        }
        if stalled >= timeout || write_stalled >= timeout {
            shared.fail(Error::Timeout);
            return true;
        }
        last = progress;
        last_writes = writes;
    }
}
