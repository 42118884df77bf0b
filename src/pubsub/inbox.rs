//! The bounded buffer between a connection's reader and a slow consumer.
//!
//! Lives here: [`Inbox`], used by the subscriber and the coordinator. The
//! policy: the buffer holds at most `capacity` items; pushing into a full
//! buffer drops the **oldest** item and counts it; the consumer then receives
//! [`Popped::Lagged`] with the count before the next item. Pushing never
//! blocks and never allocates past the capacity, so a consumer that stops
//! reading costs bounded memory and never stalls the connection's other
//! callers. Dropping the oldest (not the newest) keeps what the consumer
//! reads as fresh as possible; after a lag it must resynchronise anyway.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// What the consumer gets from [`Inbox::pop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popped<T> {
    /// The next item.
    Item(T),
    /// This many items were dropped since the last pop, oldest first.
    Lagged(u64),
}

struct State<T> {
    queue: VecDeque<T>,
    dropped: u64,
    closed: bool,
}

/// A bounded, drop-oldest, single-consumer buffer (several consumers work,
/// each item goes to one of them).
pub struct Inbox<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    ready: Notify,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl<T> Inbox<T> {
    /// A buffer of `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Inbox<T> {
        let capacity = capacity.max(1);
        Inbox {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                dropped: 0,
                closed: false,
            }),
            capacity,
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every update below is a single step: a poisoned lock holds a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an item, dropping the oldest one when full. Never blocks.
    /// Items pushed after [`Inbox::close`] are discarded.
    pub fn push(&self, item: T) {
        {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            if st.queue.len() >= self.capacity {
                st.queue.pop_front();
                st.dropped = st.dropped.saturating_add(1);
            }
            st.queue.push_back(item);
        }
        self.ready.notify_waiters();
    }

    /// No more items will come: consumers drain what is left, then get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lag report or next item if there is one, without waiting.
    /// `None` when empty (closed or not).
    pub fn try_pop(&self) -> Option<Popped<T>> {
        let mut st = self.lock();
        if st.dropped > 0 {
            return Some(Popped::Lagged(std::mem::take(&mut st.dropped)));
        }
        st.queue.pop_front().map(Popped::Item)
    }

    /// Waits for the lag report or the next item; `None` once closed and drained.
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is taken until the future completes.
    pub async fn pop(&self) -> Option<Popped<T>> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push in between wakes us.
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                if st.dropped > 0 {
                    return Some(Popped::Lagged(std::mem::take(&mut st.dropped)));
                }
                if let Some(item) = st.queue.pop_front() {
                    return Some(Popped::Item(item));
                }
                if st.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn full_buffer_drops_the_oldest_and_reports_the_count_first() {
        let inbox = Inbox::new(3);
        for i in 0..5 {
            inbox.push(i);
        }
        assert_eq!(inbox.len(), 3);
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged(2)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(2)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(3)));
        inbox.push(9);
        assert_eq!(inbox.try_pop(), Some(Popped::Item(4)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(9)));
        assert_eq!(inbox.try_pop(), None);
    }

    #[test]
    fn memory_stays_bounded_whatever_is_pushed() {
        let inbox = Inbox::new(10);
        for i in 0..100_000u32 {
            inbox.push(i);
        }
        assert_eq!(inbox.len(), 10);
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged(99_990)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(99_990)));
    }

    #[test]
    fn zero_capacity_means_one() {
        let inbox = Inbox::new(0);
        inbox.push('a');
        inbox.push('b');
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged(1)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item('b')));
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_and_ends_after_close() {
        let inbox = Arc::new(Inbox::new(4));
        let consumer = {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(p) = inbox.pop().await {
                    got.push(p);
                }
                got
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        inbox.push(1);
        inbox.push(2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        inbox.push(3);
        inbox.close();
        inbox.push(4); // after close: discarded
        let got = tokio::time::timeout(Duration::from_secs(5), consumer).await.unwrap().unwrap();
        assert_eq!(got, vec![Popped::Item(1), Popped::Item(2), Popped::Item(3)]);
    }
}
