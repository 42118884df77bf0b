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
//! Failure: when the socket breaks, waiters whose bytes were entirely written
//! get [`Error::OutcomeUnknown`]; the others, never (fully) written, get
//! [`Error::NotSent`] and may be sent again on a new connection. A watchdog
//! closes the connection when the oldest command has waited longer than the
//! response timeout without any reply arriving (one timer per connection,
//! not per command). Not here: the handshake, TLS, reconnecting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Notify};

use super::transport::{ReadHalf, WriteHalf};
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
            st.head_seq += 1;
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
    /// Sequence number of `queue.front()`.
    head_seq: u64,
    /// Sequence number of the first waiter not yet taken by the writer.
    taken_seq: u64,
    /// Set once: why the connection is closed.
    closed: Option<Arc<Error>>,
}

/// State shared by the handles, the writer, the reader and the watchdog.
pub(crate) struct Shared {
    state: Mutex<State>,
    wake_writer: Notify,
    space: Notify,
    waiting_for_space: AtomicUsize,
    /// Waiters with `seq < written_seq` were fully handed to the socket.
    written_seq: AtomicU64,
    /// Count of replies received: the watchdog's measure of progress.
    replies: AtomicU64,
    /// Blocking commands in flight: the watchdog leaves the connection alone.
    blocking: AtomicUsize,
    is_closed: AtomicBool,
    /// Woken once, when the connection closes.
    closed_notify: Notify,
    max_in_flight: usize,
}

impl Shared {
    pub(crate) fn new(max_in_flight: usize) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                wbuf: BytesMut::with_capacity(16 * 1024),
                wlens: Vec::with_capacity(64),
                queue: VecDeque::with_capacity(64),
                head_seq: 0,
                taken_seq: 0,
                closed: None,
            }),
            wake_writer: Notify::new(),
            space: Notify::new(),
            waiting_for_space: AtomicUsize::new(0),
            written_seq: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            blocking: AtomicUsize::new(0),
            is_closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            max_in_flight: max_in_flight.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated
        // in a way that matters more than losing the connection: recover.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

    pub(crate) fn blocking_guard(self: &Arc<Self>) -> BlockingGuard {
        self.blocking.fetch_add(1, Ordering::AcqRel);
        BlockingGuard(self.clone())
    }

    /// Queues one encoded command (or pipeline) and returns the reply receiver.
    /// Waits while `max_in_flight` commands are queued (back-pressure).
    ///
    /// Cancel safety: dropping the future before it returns queues nothing;
    /// after it returns, the reply is simply discarded when it arrives.
    pub(crate) async fn enqueue(
        &self,
        frames: u32,
        len: usize,
        write: impl Fn(&mut BytesMut),
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        self.enqueue_waiter(frames, None, len, write).await
    }

    /// As [`Shared::enqueue`], for a command answered by pub/sub confirmations.
    pub(crate) async fn enqueue_confirmed(
        &self,
        confirm: Confirm,
        len: usize,
        write: impl Fn(&mut BytesMut),
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        self.enqueue_waiter(1, Some(Box::new(confirm)), len, write).await
    }

    async fn enqueue_waiter(
        &self,
        frames: u32,
        mut confirm: Option<Box<Confirm>>,
        len: usize,
        write: impl Fn(&mut BytesMut),
    ) -> Result<oneshot::Receiver<Result<Frame, Error>>, Error> {
        loop {
            let notified = {
                let mut st = self.lock();
                if let Some(cause) = &st.closed {
                    return Err(Error::NotSent { cause: cause.clone() });
                }
                if st.queue.len() < self.max_in_flight {
                    let (tx, rx) = oneshot::channel();
                    let was_empty = st.wbuf.is_empty();
                    let before = st.wbuf.len();
                    write(&mut st.wbuf);
                    let written = st.wbuf.len() - before;
                    debug_assert_eq!(written, len);
                    st.wlens.push(u32::try_from(written).unwrap_or(u32::MAX));
                    st.queue.push_back(Waiter { tx, frames, confirm: confirm.take() });
                    drop(st);
                    if was_empty {
                        self.wake_writer.notify_one();
                    }
                    return Ok(rx);
                }
                // Register for a wake-up before releasing the lock so none is missed.
                self.waiting_for_space.fetch_add(1, Ordering::AcqRel);
                let notified = self.space.notified();
                drop(st);
                notified
            };
            notified.await;
            self.waiting_for_space.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Closes the connection: every waiter gets `OutcomeUnknown` (written) or
    /// `NotSent` (not written), tasks are woken so they exit. Idempotent.
    pub(crate) fn fail(&self, error: Error) {
        let cause = Arc::new(error);
        let (queue, head_seq) = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return;
            }
            st.closed = Some(cause.clone());
            self.is_closed.store(true, Ordering::Release);
            st.wbuf.clear();
            st.wlens.clear();
            (std::mem::take(&mut st.queue), st.head_seq)
        };
        let written = self.written_seq.load(Ordering::Acquire);
        for (i, w) in queue.into_iter().enumerate() {
            let seq = head_seq + i as u64;
            let err = if seq < written {
                Error::OutcomeUnknown { cause: cause.clone() }
            } else {
                Error::NotSent { cause: cause.clone() }
            };
            let _ = w.tx.send(Err(err));
        }
        self.wake_writer.notify_one();
        self.space.notify_waiters();
        self.closed_notify.notify_waiters();
    }
}

/// Marks a blocking command in flight for as long as it lives.
pub(crate) struct BlockingGuard(Arc<Shared>);

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.0.blocking.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The writer task: takes the whole write buffer and writes it out.
pub(crate) async fn run_writer(shared: Arc<Shared>, mut w: WriteHalf, reader: tokio::task::AbortHandle) {
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
        let Some(start_seq) = start_seq else {
            shared.wake_writer.notified().await;
            // Let callers woken by the same reply batch queue their next
            // commands first, so that they share this write.
            tokio::task::yield_now().await;
            continue;
        };
        let mut off = 0usize;
        let mut failure = None;
        while off < buf.len() {
            match w.write(&buf[off..]).await {
                Ok(0) => {
                    failure = Some(Error::from(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    )));
                    break;
                }
                Ok(n) => off += n,
                Err(e) => {
                    failure = Some(Error::from(e));
                    break;
                }
            }
        }
        // TLS may accept plaintext while the socket is full and keep the
        // encrypted bytes: flush, or they wait for the next command (a no-op on TCP).
        if failure.is_none() {
            if let Err(e) = w.flush().await {
                failure = Some(Error::from(e));
            }
        }
        // Which commands were handed to the socket in full.
        let mut done = 0u64;
        let mut acc = 0usize;
        for &l in &lens {
            acc += l as usize;
            if acc > off {
                break;
            }
            done += 1;
        }
        shared.written_seq.fetch_max(start_seq + done, Ordering::AcqRel);
        buf.clear();
        lens.clear();
        if let Some(e) = failure {
            shared.fail(e);
            break;
        }
    }
    reader.abort();
    let _ = w.shutdown().await;
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
    let mut partial: Vec<Frame> = Vec::new();
    loop {
        loop {
            match decoder.decode(&mut rbuf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    let _ =
                        dispatch(&shared, &mut frames, &mut partial, &mut done, push.as_ref(), pubsub_mode);
                    complete(&mut done);
                    shared.fail(Error::Protocol(e));
                    return;
                }
            }
        }
        if !frames.is_empty() {
            if let Err(e) =
                dispatch(&shared, &mut frames, &mut partial, &mut done, push.as_ref(), pubsub_mode)
            {
                complete(&mut done);
                shared.fail(e);
                return;
            }
            complete(&mut done);
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
            Ok(_) => {}
            Err(e) => {
                shared.fail(Error::from(e));
                return;
            }
        }
    }
}

fn dispatch(
    shared: &Shared,
    frames: &mut Vec<Frame>,
    partial: &mut Vec<Frame>,
    done: &mut Vec<(ReplySender, Result<Frame, Error>)>,
    push: Option<&PushSink>,
    pubsub_mode: bool,
) -> Result<(), Error> {
    let mut replies = 0u64;
    let mut result = Ok(());
    {
        let mut st = shared.lock();
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
                result = Err(Error::Other("the server sent a reply no command was waiting for".into()));
                break;
            };
            if front.frames <= 1 && partial.is_empty() {
                if let Some(w) = st.queue.pop_front() {
                    st.head_seq += 1;
                    done.push((w.tx, Ok(frame)));
                }
            } else {
                partial.push(frame);
                if partial.len() >= front.frames as usize {
                    if let Some(w) = st.queue.pop_front() {
                        st.head_seq += 1;
                        done.push((w.tx, Ok(Frame::Array(std::mem::take(partial)))));
                    }
                }
            }
        }
    }
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

/// The watchdog: closes the connection when replies stop while commands wait.
pub(crate) async fn run_watchdog(shared: Weak<Shared>, timeout: Duration) {
    let tick = (timeout / 8).max(Duration::from_millis(5));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_replies = 0u64;
    let mut last_head = u64::MAX;
    let mut stalled = Duration::ZERO;
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        if shared.is_closed() {
            return;
        }
        let replies = shared.replies.load(Ordering::Acquire);
        let (waiting, head) = {
            let st = shared.lock();
            (!st.queue.is_empty(), st.head_seq)
        };
        let blocking = shared.blocking.load(Ordering::Acquire) > 0;
        if waiting && !blocking && replies == last_replies && head == last_head {
            stalled += tick;
            if stalled >= timeout {
                shared.fail(Error::Timeout);
                return;
            }
        } else {
            stalled = Duration::ZERO;
        }
        last_replies = replies;
        last_head = head;
    }
}
