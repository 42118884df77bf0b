//! The write ledger: which commands of a connection may have reached the server.
//!
//! The exactly-once rule lives here, as pure arithmetic the driver and a fuzz
//! target share: a command any byte of which was accepted by the socket (or
//! the TLS layer above it) may have run, so when the connection fails it is
//! *outcome unknown*; only a command none of whose bytes left the process is
//! *not sent*, and safe to send again. The ledger advances on every accepted
//! write, not per batch, and the driver consults it and closes it under one
//! lock, so no byte is written after the close and none goes unaccounted.
//!
//! Commands are numbered in send order from 0; a pipeline of `n` commands
//! takes `n` numbers. Not here: sockets, locks, waiters (`driver`).
//!
//! Pure: no IO.

/// What a failed connection tells the waiter of a run of commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// No byte of any of its commands left the process: safe to send again.
    NotSent,
    /// Every command had at least one byte handed over: each may have run.
    Unknown,
    /// A pipeline handed over in part: its first `sent` commands may have
    /// run, the rest did not.
    Partial {
        /// Commands at least one byte of which was handed over.
        sent: u32,
    },
}

/// Tells the fate of the commands `first .. first + count` when the ledger
/// says `sent` commands (counted from 0) had a byte handed over.
pub fn fate(first: u64, count: u32, sent: u64) -> Fate {
    if sent <= first {
        return Fate::NotSent;
    }
    let touched = sent - first;
    if touched >= u64::from(count) {
        Fate::Unknown
    } else {
        // touched < count <= u32::MAX, so this fits.
        Fate::Partial { sent: u32::try_from(touched).unwrap_or(u32::MAX) }
    }
}

/// Tracks one batch the writer is handing to the socket.
///
/// `begin` with the batch's first command number and the byte length of each
/// of its commands; `accepted(n)` after every write that took `n` bytes.
/// [`WriteLedger::sent`] is then the number of commands (from 0) at least one
/// byte of which was handed over.
#[derive(Debug, Default, Clone)]
pub struct WriteLedger {
    /// Commands with at least one byte handed over, counted from 0.
    sent: u64,
    /// Bytes of the current batch handed over.
    offset: u64,
    /// Start offset, within the batch, of the first command not yet touched.
    next_start: u64,
    /// Index, within the batch, of the first command not yet touched.
    next_index: usize,
    /// Command number of the batch's first command.
    batch_first: u64,
}

impl WriteLedger {
    /// Commands (from 0) at least one byte of which was handed over.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Starts a batch whose first command is number `first`.
    pub fn begin(&mut self, first: u64) {
        self.offset = 0;
        self.next_start = 0;
        self.next_index = 0;
        self.batch_first = first;
    }

    /// Records that the socket accepted `n` more bytes of the batch whose
    /// command lengths are `lens`; returns the new [`WriteLedger::sent`].
    pub fn accepted(&mut self, n: usize, lens: &[u32]) -> u64 {
        if n == 0 {
            return self.sent;
        }
        self.offset = self.offset.saturating_add(n as u64);
        while self.next_index < lens.len() && self.next_start < self.offset {
            self.next_start += u64::from(lens[self.next_index]);
            self.next_index += 1;
        }
        self.sent = self.sent.max(self.batch_first + self.next_index as u64);
        self.sent
    }

    /// Bytes of the current batch handed over.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_touched_by_one_byte_counts_as_sent() {
        let lens = [10, 5, 7];
        let mut l = WriteLedger::default();
        l.begin(0);
        assert_eq!(l.sent(), 0);
        assert_eq!(l.accepted(1, &lens), 1);
        assert_eq!(l.accepted(9, &lens), 1, "exactly the first command");
        assert_eq!(l.accepted(1, &lens), 2);
        assert_eq!(l.accepted(11, &lens), 3);
        assert_eq!(l.offset(), 22);
    }

    #[test]
    fn batches_continue_the_numbering() {
        let mut l = WriteLedger::default();
        l.begin(0);
        l.accepted(4, &[2, 2]);
        l.begin(2);
        assert_eq!(l.sent(), 2);
        assert_eq!(l.accepted(3, &[3, 3]), 3);
    }

    #[test]
    fn fates() {
        assert_eq!(fate(5, 1, 5), Fate::NotSent);
        assert_eq!(fate(5, 1, 6), Fate::Unknown);
        assert_eq!(fate(5, 3, 6), Fate::Partial { sent: 1 });
        assert_eq!(fate(5, 3, 8), Fate::Unknown);
        assert_eq!(fate(5, 3, 100), Fate::Unknown);
        assert_eq!(fate(5, 3, 0), Fate::NotSent);
    }

    #[test]
    fn random_writes_never_misreport() {
        // Every split of a batch into accepted chunks: a command is counted
        // sent exactly when its first byte is within the accepted prefix.
        let lens = [3u32, 1, 4, 1, 5];
        let total: u32 = lens.iter().sum();
        for seed in 0..500u64 {
            let mut l = WriteLedger::default();
            l.begin(0);
            let mut off = 0u32;
            let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            while off < total {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = 1 + (x >> 33) as u32 % (total - off);
                off += n;
                let sent = l.accepted(n as usize, &lens);
                let mut start = 0u32;
                let mut expect = 0u64;
                for len in lens {
                    if start < off {
                        expect += 1;
                    }
                    start += len;
                }
                assert_eq!(sent, expect, "seed {seed} offset {off}");
            }
        }
    }
}
