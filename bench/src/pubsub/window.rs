//! [`Window`]: a bounded set of in-flight futures that are started in the
//! order they are pushed, and yield their outputs as they complete.
//!
//! Why not spawn one task per publish: two tasks spawned one after the other
//! may be polled in either order on a multi-threaded runtime, so the commands
//! could reach the connection out of sequence and the subscribers would see a
//! reordering the client never made. Here [`Window::push`] polls the new future
//! once, at once, on the caller's task: both clients queue the command on that
//! first poll when their queue has room, so the wire order is the push order.
//! After that, each future has its own waker, and only futures that were woken
//! are polled again (no scan of the whole window per reply).
//!
//! Two conditions keep that order, and the bench meets both:
//!
//! - The client's queue holds the whole window, so no first poll has to wait
//!   for room: a waiting future can be overtaken (see `client`).
//! - The window is polled under [`tokio::task::unconstrained`]. Otherwise, once
//!   the task's cooperative budget runs out, a tokio resource answers `Pending`
//!   even with room available (tokio's semaphore even after granting it) and
//!   defers the wake-up to the end of the task's turn, while newer futures go
//!   ahead. Measured with redis-rs at its default queue of 50 and 256 in
//!   flight: about a third of 5000 publishes out of order, far fewer once
//!   unconstrained.
//!
//! Not here: what the futures do (`client`), how large the window is (`run`).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// A boxed future, as the window holds them.
pub type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// In-flight futures; the caller bounds their number with [`Window::len`].
pub struct Window<T> {
    slots: Vec<Option<Boxed<T>>>,
    /// One waker per slot, made once: waking it queues the slot's index.
    wakers: Vec<Waker>,
    free: Vec<usize>,
    /// Outputs of futures that completed but were not yet returned.
    done: VecDeque<T>,
    woken: Arc<Woken>,
    /// The woken list's spare buffer, swapped in on each pass.
    scratch: Vec<usize>,
    pending: usize,
}

/// Which slots were woken, and the task waiting in [`Window::next`].
#[derive(Default)]
struct Woken {
    indices: Mutex<Vec<usize>>,
    waiter: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct SlotWaker {
    index: usize,
    woken: Arc<Woken>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.woken.indices).push(self.index);
        if let Some(w) = lock(&self.woken.waiter).as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window {
            slots: Vec::new(),
            wakers: Vec::new(),
            free: Vec::new(),
            done: VecDeque::new(),
            woken: Arc::new(Woken::default()),
            scratch: Vec::new(),
            pending: 0,
        }
    }
}

impl<T> Window<T> {
    /// An empty window.
    pub fn new() -> Window<T> {
        Window::default()
    }

    /// Futures pushed whose output was not yet returned by [`Window::next`].
    pub fn len(&self) -> usize {
        self.pending + self.done.len()
    }

    /// Adds a future and polls it once, now, on the caller's task.
    pub fn push(&mut self, future: Boxed<T>) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let index = self.slots.len();
                self.slots.push(None);
                let waker = Waker::from(Arc::new(SlotWaker { index, woken: self.woken.clone() }));
                self.wakers.push(waker);
                index
            }
        };
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(future);
            self.pending += 1;
            self.poll_slot(index);
        }
    }

    /// Polls one slot with its own waker; a finished future frees the slot.
    fn poll_slot(&mut self, index: usize) {
        let (Some(slot), Some(waker)) = (self.slots.get_mut(index), self.wakers.get(index)) else {
            return;
        };
        // A stale wake-up (the slot finished, or now holds a newer future)
        // costs at most one extra poll.
        let Some(future) = slot.as_mut() else { return };
        if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(waker)) {
            *slot = None;
            self.free.push(index);
            self.pending -= 1;
            self.done.push_back(out);
        }
    }

    /// The next output, in completion order; `None` once the window is empty.
    pub async fn next(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(out) = self.done.pop_front() {
            return Poll::Ready(Some(out));
        }
        if self.pending == 0 {
            return Poll::Ready(None);
        }
        // Register before looking at the woken slots, so a wake-up that lands
        // in between is not missed.
        {
            let mut waiter = lock(&self.woken.waiter);
            if !waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waiter = Some(cx.waker().clone());
            }
        }
        // One pass, never a loop until something completes: a future may wake
        // itself while being polled (tokio does when the task's budget is
        // spent, outside a worker thread), and looping would then spin
        // forever. Such a wake-up has already woken this task again.
        let mut woken = std::mem::take(&mut self.scratch);
        std::mem::swap(&mut woken, &mut *lock(&self.woken.indices));
        for &index in &woken {
            self.poll_slot(index);
        }
        woken.clear();
        self.scratch = woken;
        match self.done.pop_front() {
            Some(out) => Poll::Ready(Some(out)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn ready_futures_come_back_in_push_order() {
        let mut w = Window::new();
        for i in 0..5u32 {
            w.push(Box::pin(async move { i }));
        }
        assert_eq!(w.len(), 5);
        let mut got = Vec::new();
        while let Some(i) = w.next().await {
            got.push(i);
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(w.len(), 0);
    }

    #[tokio::test]
    async fn push_polls_at_once_in_order() {
        // Each future records when it is first polled, then waits for its reply.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut replies = Vec::new();
        let mut w = Window::new();
        for i in 0..4u32 {
            let (tx, rx) = oneshot::channel::<u32>();
            replies.push(tx);
            let order = order.clone();
            w.push(Box::pin(async move {
                order.lock().unwrap().push(i);
                rx.await.unwrap_or(u32::MAX)
            }));
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3], "started before next() and in order");
        // Complete out of order: outputs follow completion.
        let mut replies = replies.into_iter().map(Some).collect::<Vec<_>>();
        for &i in &[2usize, 0, 3, 1] {
            if let Some(tx) = replies[i].take() {
                tx.send(i as u32 * 10).unwrap();
            }
            assert_eq!(w.next().await, Some(i as u32 * 10));
        }
        assert_eq!(w.next().await, None);
    }

    #[tokio::test]
    async fn only_woken_futures_are_polled_again() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut w = Window::new();
        let mut senders = Vec::new();
        for _ in 0..100 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            let polls = polls.clone();
            let mut rx = rx;
            w.push(Box::pin(poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                Pin::new(&mut rx).poll(cx).map(|_| ())
            })));
        }
        assert_eq!(polls.load(Ordering::Relaxed), 100);
        let first = senders.remove(0);
        first.send(()).unwrap();
        assert_eq!(w.next().await, Some(()));
        // The first poll of each, plus one for the one that was woken.
        assert_eq!(polls.load(Ordering::Relaxed), 101);
        assert_eq!(w.len(), 99);
        drop(senders);
        let mut rest = 0;
        while w.next().await.is_some() {
            rest += 1;
        }
        assert_eq!(rest, 99);
    }

    #[tokio::test]
    async fn slots_are_reused() {
        let mut w = Window::new();
        for round in 0..3u32 {
            for i in 0..8u32 {
                w.push(Box::pin(async move {
                    tokio::task::yield_now().await;
                    round * 100 + i
                }));
            }
            let mut got = Vec::new();
            while let Some(v) = w.next().await {
                got.push(v);
            }
            got.sort_unstable();
            assert_eq!(got, (0..8).map(|i| round * 100 + i).collect::<Vec<_>>());
        }
        assert_eq!(w.slots.len(), 8);
    }

    /// A future that wakes itself while being polled must not make `next`
    /// spin: the task that will make it ready needs this one to yield.
    #[tokio::test]
    async fn self_waking_futures_let_the_task_yield() {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let setter = {
            let flag = flag.clone();
            tokio::spawn(async move { flag.store(true, Ordering::Release) })
        };
        let mut w = Window::new();
        let seen = flag.clone();
        w.push(Box::pin(poll_fn(move |cx| {
            if seen.load(Ordering::Acquire) {
                Poll::Ready(7)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })));
        assert_eq!(w.next().await, Some(7));
        setter.await.unwrap();
    }

    /// What the publisher relies on: requests queued through a bounded
    /// channel that holds the whole window, each answered by the receiving
    /// side (as a client's connection task does), leave in push order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_through_a_queue_holding_the_window_keep_push_order() {
        const WINDOW: usize = 64;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, oneshot::Sender<()>)>(WINDOW);
        let consumer = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some((v, reply)) = rx.recv().await {
                got.push(v);
                let _ = reply.send(());
            }
            got
        });
        let producer = tokio::spawn(tokio::task::unconstrained(async move {
            let mut w = Window::new();
            for i in 0..50_000u64 {
                while w.len() >= WINDOW {
                    w.next().await;
                }
                let tx = tx.clone();
                w.push(Box::pin(async move {
                    let (reply_tx, reply_rx) = oneshot::channel();
                    tx.send((i, reply_tx)).await.is_ok() && reply_rx.await.is_ok()
                }));
            }
            while let Some(answered) = w.next().await {
                assert!(answered);
            }
        }));
        producer.await.unwrap();
        let got = consumer.await.unwrap();
        assert_eq!(got, (0..50_000).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn completions_from_other_threads_wake_the_waiter() {
        let mut w = Window::new();
        let mut got = Vec::new();
        for i in 0..1000u64 {
            let (tx, rx) = oneshot::channel::<u64>();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let _ = tx.send(i);
            });
            w.push(Box::pin(async move { rx.await.unwrap_or(u64::MAX) }));
            if w.len() >= 64 {
                got.extend(w.next().await);
            }
        }
        while let Some(v) = w.next().await {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(w.len(), 0);
    }
}
