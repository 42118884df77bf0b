//! The bounded buffer between a connection's reader and a slow consumer.
//!
//! Lives here: [`Inbox`], used by the subscriber and the coordinator. The
//! policy: the buffer holds at most `capacity` items and, when built with
//! [`Inbox::with_byte_limit`], at most `max_bytes` bytes of them (as the
//! item's weight function counts them); pushing past either bound drops the
//! **oldest** items until both hold, and counts them; the consumer then
//! receives [`Popped::Lagged`] with the count before the next item. An item
//! heavier than `max_bytes` on its own is dropped (and counted) at once, so
//! the byte bound is strict. Pushing never blocks and never holds more than
//! the bounds, so a consumer that stops reading costs bounded memory and
//! never stalls the connection's other callers. Dropping the oldest (not the
//! newest) keeps what the consumer reads as fresh as possible; after a lag
//! it must resynchronise anyway.

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
    /// Each item with its weight, as counted when it was pushed.
    queue: VecDeque<(T, usize)>,
    /// Sum of the weights in `queue`.
    bytes: usize,
    dropped: u64,
    closed: bool,
}

impl<T> State<T> {
    fn drop_oldest(&mut self) {
        if let Some((_, weight)) = self.queue.pop_front() {
            self.bytes = self.bytes.saturating_sub(weight);
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn pop(&mut self) -> Option<T> {
        let (item, weight) = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(weight);
        Some(item)
    }
}

/// A bounded, drop-oldest, single-consumer buffer (several consumers work,
/// each item goes to one of them).
pub struct Inbox<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    max_bytes: usize,
    weigh: fn(&T) -> usize,
    ready: Notify,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .field("len", &self.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl<T> Inbox<T> {
    /// A buffer of `capacity` items (at least 1), with no byte bound.
    pub fn new(capacity: usize) -> Inbox<T> {
        Inbox::with_byte_limit(capacity, usize::MAX, |_| 0)
    }

    /// A buffer of `capacity` items (at least 1) weighing at most
    /// `max_bytes` (at least 1) together, each item weighing `weigh(item)`.
    pub fn with_byte_limit(capacity: usize, max_bytes: usize, weigh: fn(&T) -> usize) -> Inbox<T> {
        let capacity = capacity.max(1);
        Inbox {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                bytes: 0,
                dropped: 0,
                closed: false,
            }),
            capacity,
            max_bytes: max_bytes.max(1),
            weigh,
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every update below is a single step: a poisoned lock holds a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an item, dropping the oldest ones while either bound would be
    /// exceeded (an item heavier than the byte bound alone is dropped
    /// itself). Never blocks. Items pushed after [`Inbox::close`] are
    /// discarded.
    pub fn push(&self, item: T) {
        let weight = (self.weigh)(&item);
        {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            if weight > self.max_bytes {
                st.dropped = st.dropped.saturating_add(1);
            } else {
                while !st.queue.is_empty()
                    && (st.queue.len() >= self.capacity || st.bytes.saturating_add(weight) > self.max_bytes)
                {
                    st.drop_oldest();
                }
                st.bytes = st.bytes.saturating_add(weight);
                st.queue.push_back((item, weight));
            }
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

    /// Weight of the items waiting (0 without a byte bound).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The lag report or next item if there is one, without waiting.
    /// `None` when empty (closed or not).
    pub fn try_pop(&self) -> Option<Popped<T>> {
        let mut st = self.lock();
        if st.dropped > 0 {
            return Some(Popped::Lagged(std::mem::take(&mut st.dropped)));
        }
        st.pop().map(Popped::Item)
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
                if let Some(item) = st.pop() {
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

    /// The weight of a test item: its length.
    const LEN_OF: fn(&Vec<u8>) -> usize = |v| v.len();

    #[test]
    fn ten_mib_into_a_one_mib_inbox_keeps_the_newest_within_the_cap() {
        const CAP: usize = 1 << 20;
        let inbox = Inbox::with_byte_limit(1_000_000, CAP, LEN_OF);
        // 10 MiB in messages of 10,000 bytes, each tagged with its number.
        let count = (10 << 20) / 10_000;
        for i in 0..count {
            let mut m = vec![0u8; 10_000];
            m[..4].copy_from_slice(&(i as u32).to_be_bytes());
            inbox.push(m);
            assert!(inbox.bytes() <= CAP, "{} bytes held after push {i}", inbox.bytes());
        }
        let kept = CAP / 10_000;
        assert_eq!(inbox.len(), kept);
        assert_eq!(inbox.bytes(), kept * 10_000);
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged((count - kept) as u64)));
        let mut numbers = Vec::new();
        while let Some(Popped::Item(m)) = inbox.try_pop() {
            numbers.push(u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize);
        }
        assert_eq!(numbers, ((count - kept)..count).collect::<Vec<_>>(), "the newest, in order");
        assert_eq!(inbox.bytes(), 0);
    }

    #[test]
    fn the_message_bound_still_applies_under_the_byte_bound() {
        let inbox = Inbox::with_byte_limit(3, 1 << 20, LEN_OF);
        for i in 0..5u8 {
            inbox.push(vec![i]);
        }
        assert_eq!((inbox.len(), inbox.bytes()), (3, 3));
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged(2)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(vec![2])));
    }

    #[test]
    fn an_item_heavier_than_the_cap_is_dropped_and_reported() {
        let inbox = Inbox::with_byte_limit(10, 100, LEN_OF);
        inbox.push(vec![1; 60]);
        inbox.push(vec![2; 101]);
        assert_eq!((inbox.len(), inbox.bytes()), (1, 60), "the older one stays, the giant goes");
        // 60 + 50 > 100: the older one makes room.
        inbox.push(vec![3; 50]);
        assert_eq!((inbox.len(), inbox.bytes()), (1, 50));
        assert_eq!(inbox.try_pop(), Some(Popped::Lagged(2)));
        assert_eq!(inbox.try_pop(), Some(Popped::Item(vec![3; 50])));
        assert_eq!(inbox.try_pop(), None);
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
