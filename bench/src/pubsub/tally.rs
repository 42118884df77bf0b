//! [`Tally`]: what one subscriber received, checked against what was
//! published: loss, reordering, duplicates, and the latency of each message.
//!
//! Every sequence number is remembered in a bitmap (one bit per published
//! message), so the counts are exact: a message that arrives late counts as
//! out of order, not as lost, and one that arrives twice as a duplicate.
//!
//! Pure: the caller passes the receive time. Not here: the payload format
//! (`payload`), receiving (`client`).

use hdrhistogram::Histogram;

/// The largest latency the histograms hold, in nanoseconds (larger ones are
/// clamped to it): one minute.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// An empty latency histogram in nanoseconds, 3 significant digits.
///
/// # Errors
/// Only if hdrhistogram refused these constant bounds.
pub fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).map_err(|e| format!("histogram: {e:?}"))
}

/// One subscriber's view of the run.
pub struct Tally {
    expected: u64,
    seen: Vec<u64>,
    /// The highest sequence number received so far, plus one (0 = none yet).
    high: u64,
    /// Messages received, including duplicates and malformed ones.
    pub delivered: u64,
    /// Messages received after one with a higher sequence number.
    pub out_of_order: u64,
    /// Sequence numbers received more than once.
    pub duplicates: u64,
    /// Payloads that did not parse, or carried a number never published.
    pub malformed: u64,
    /// Messages the client said it dropped (redwire's `Event::Lagged`).
    pub reported_dropped: u64,
    /// Subscription interruptions the client reported.
    pub interruptions: u64,
    /// When the last message arrived (clock nanoseconds), 0 if none did.
    pub last_ns: u64,
    /// End-to-end latency of each first delivery, in nanoseconds.
    pub latency: Histogram<u64>,
}

impl Tally {
    /// A tally for sequence numbers `0..expected`.
    ///
    /// # Errors
    /// As [`histogram`].
    pub fn new(expected: u64) -> Result<Tally, String> {
        let words = usize::try_from(expected.div_ceil(64)).unwrap_or(0);
        Ok(Tally {
            expected,
            seen: vec![0; words],
            high: 0,
            delivered: 0,
            out_of_order: 0,
            duplicates: 0,
            malformed: 0,
            reported_dropped: 0,
            interruptions: 0,
            last_ns: 0,
            latency: histogram()?,
        })
    }

    /// Records one delivered message (`None`: its payload did not parse).
    /// Returns true when it was the last one published.
    pub fn record(&mut self, header: Option<(u64, u64)>, now_ns: u64) -> bool {
        self.delivered += 1;
        self.last_ns = now_ns;
        let Some((seq, sent_ns)) = header else {
            self.malformed += 1;
            return false;
        };
        let word = usize::try_from(seq / 64).ok().and_then(|w| self.seen.get_mut(w));
        let Some(word) = word.filter(|_| seq < self.expected) else {
            self.malformed += 1;
            return false;
        };
        let bit = 1u64 << (seq % 64);
        if *word & bit != 0 {
            self.duplicates += 1;
            return false;
        }
        *word |= bit;
        if seq < self.high {
            self.out_of_order += 1;
        } else {
            self.high = seq + 1;
        }
        self.latency.saturating_record(now_ns.saturating_sub(sent_ns).max(1));
        seq + 1 == self.expected
    }

    /// Distinct messages received.
    pub fn distinct(&self) -> u64 {
        self.seen.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Published messages never received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.distinct())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: &mut Tally, seq: u64) -> bool {
        t.record(Some((seq, 1_000)), 1_000 + 10_000 * (seq + 1))
    }

    #[test]
    fn in_order_delivery_is_clean() {
        let mut t = Tally::new(130).unwrap();
        for seq in 0..129 {
            assert!(!rec(&mut t, seq));
        }
        assert!(rec(&mut t, 129), "the last one ends the subscriber");
        assert_eq!((t.delivered, t.lost(), t.out_of_order, t.duplicates, t.malformed), (130, 0, 0, 0, 0));
        assert_eq!(t.latency.len(), 130);
        assert!(t.latency.max() >= 1_300_000 - 1_000);
    }

    #[test]
    fn gaps_are_lost_and_late_arrivals_out_of_order() {
        let mut t = Tally::new(10).unwrap();
        for seq in [0, 1, 4, 2, 5, 9] {
            rec(&mut t, seq);
        }
        // 3, 6, 7, 8 never came; 2 came after 4.
        assert_eq!(t.lost(), 4);
        assert_eq!(t.out_of_order, 1);
        assert_eq!(t.duplicates, 0);
        assert_eq!(t.delivered, 6);
    }

    #[test]
    fn duplicates_and_garbage_are_counted_apart() {
        let mut t = Tally::new(4).unwrap();
        rec(&mut t, 0);
        rec(&mut t, 0);
        assert!(!t.record(None, 5));
        assert!(!t.record(Some((4, 0)), 5), "never published");
        assert!(!t.record(Some((u64::MAX, 0)), 5));
        assert_eq!((t.duplicates, t.malformed, t.delivered, t.distinct()), (1, 3, 5, 1));
        assert_eq!(t.latency.len(), 1, "only first deliveries have a latency");
        assert_eq!(t.lost(), 3);
    }

    #[test]
    fn nothing_received_is_all_lost() {
        let t = Tally::new(1000).unwrap();
        assert_eq!(t.lost(), 1000);
        assert_eq!(t.last_ns, 0);
    }

    #[test]
    fn clock_going_backwards_is_clamped() {
        let mut t = Tally::new(1).unwrap();
        assert!(t.record(Some((0, 500)), 100));
        assert_eq!(t.latency.min(), 1);
    }
}
