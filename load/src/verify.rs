//! What a reply says about the read: the pure judgement of one `GET` value
//! (or one `MGET` entry) and of one `INCR` result against the bounds the
//! load tracked. No IO, no clock.
//!
//! A key has one writer task, so its versions reach the server in the order
//! they were issued: a read must return a version between the newest one
//! acknowledged before it was sent (`lower`) and the newest one issued when
//! it returned (`upper`). A task's counter only grows, by at most one per
//! `INCR` it sent (an `INCR` that failed may still have counted).

/// The judgement of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A version the read may see.
    Ok,
    /// Older than an acknowledged write, read from a replica (allowed there).
    Stale,
    /// Older than an acknowledged write, read after the fault (acknowledged
    /// writes lost in a failover: Valkey replicates asynchronously).
    OlderAfterFailover,
    /// Wrong: the reason is a stable short name.
    Wrong(&'static str),
}

/// Judges a read of key `key` that returned `value` (values are `size` bytes).
pub fn judge(
    value: Option<&[u8]>,
    key: u64,
    size: usize,
    lower: u64,
    upper: u64,
    replicas: bool,
    after_fault: bool,
) -> Verdict {
    let Some(value) = value else { return Verdict::Wrong("missing") };
    let Some((k, version)) = crate::value::parse_value(value, size) else {
        return Verdict::Wrong("garbled");
    };
    if k != key {
        Verdict::Wrong("other_key")
    } else if version > upper {
        Verdict::Wrong("never_written")
    } else if version >= lower {
        Verdict::Ok
    } else if replicas {
        Verdict::Stale
    } else if after_fault {
        Verdict::OlderAfterFailover
    } else {
        Verdict::Wrong("older_than_acked")
    }
}

/// Judges `INCR` returning `value` on a counter that was `last` at the
/// previous successful `INCR` of the same task, after `sent` `INCR`s in all
/// (this one included) since the counter was set to 0.
pub fn judge_counter(value: i64, last: i64, sent: u64, after_fault: bool) -> Verdict {
    let sent = i64::try_from(sent).unwrap_or(i64::MAX);
    if value > sent {
        Verdict::Wrong("counter_too_high")
    } else if value > last {
        Verdict::Ok
    } else if after_fault {
        Verdict::OlderAfterFailover
    } else {
        Verdict::Wrong("counter_went_back")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::make_value;

    fn v(k: u64, version: u64) -> Vec<u8> {
        make_value(k, version, 64).to_vec()
    }

    #[test]
    fn judging_reads() {
        let ok = |val: &[u8], lower, upper| judge(Some(val), 3, 64, lower, upper, false, false);
        assert_eq!(ok(&v(3, 5), 5, 5), Verdict::Ok);
        assert_eq!(ok(&v(3, 6), 5, 6), Verdict::Ok, "a write in flight may be seen");
        assert_eq!(ok(&v(3, 4), 5, 6), Verdict::Wrong("older_than_acked"));
        assert_eq!(ok(&v(3, 7), 5, 6), Verdict::Wrong("never_written"));
        assert_eq!(ok(&v(4, 5), 5, 5), Verdict::Wrong("other_key"));
        assert_eq!(ok(b"junk", 0, 0), Verdict::Wrong("garbled"));
        assert_eq!(judge(None, 3, 64, 0, 0, false, false), Verdict::Wrong("missing"));
        assert_eq!(judge(Some(&v(3, 4)), 3, 64, 5, 6, true, false), Verdict::Stale);
        assert_eq!(judge(Some(&v(3, 4)), 3, 64, 5, 6, false, true), Verdict::OlderAfterFailover);
        assert_eq!(judge(Some(&v(4, 4)), 3, 64, 5, 6, true, true), Verdict::Wrong("other_key"));
        assert_eq!(judge(None, 3, 64, 5, 6, true, true), Verdict::Wrong("missing"));
    }

    #[test]
    fn judging_counters() {
        assert_eq!(judge_counter(1, 0, 1, false), Verdict::Ok);
        assert_eq!(judge_counter(3, 1, 3, false), Verdict::Ok, "a failed INCR may have counted");
        assert_eq!(judge_counter(4, 1, 3, false), Verdict::Wrong("counter_too_high"));
        assert_eq!(judge_counter(1, 1, 3, false), Verdict::Wrong("counter_went_back"));
        assert_eq!(judge_counter(1, 2, 3, true), Verdict::OlderAfterFailover);
    }
}
