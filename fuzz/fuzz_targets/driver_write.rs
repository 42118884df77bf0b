//! The driver's write accounting against a simulated socket.
//!
//! Input: the commands of a connection (their byte lengths, grouped into
//! waiters: single commands and pipelines), how the writer batches them,
//! how many bytes each write attempt of the simulated socket accepts, and
//! the point where the connection closes. The simulated writer follows the
//! driver's rules (`conn::ledger`, reached through `redwire::__unstable`): a
//! batch is begun, every accepted write is entered, and nothing is written
//! once closed.
//!
//! Invariant, the exactly-once rule, checked against the bytes the socket
//! really took: a waiter told `NotSent` had no byte of any of its commands
//! accepted; one told `Unknown` had a byte of every command accepted; a
//! pipeline told `Partial { sent }` had a byte of exactly its first `sent`
//! commands accepted. The ledger never counts a command before its first
//! byte is accepted, and never moves backwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redwire::__unstable::ledger::{fate, Fate, WriteLedger};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    // Waiters: 1..=40 of them, each 1..=8 commands of 1..=64 bytes.
    let Some(n_waiters) = input.byte() else { return };
    let n_waiters = usize::from(n_waiters % 40) + 1;
    let mut waiters: Vec<Vec<u32>> = Vec::with_capacity(n_waiters);
    for _ in 0..n_waiters {
        let Some(b) = input.byte() else { break };
        let count = usize::from(b % 8) + 1;
        let mut lens = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(l) = input.byte() else { break };
            lens.push(u32::from(l % 64) + 1);
        }
        if lens.is_empty() {
            break;
        }
        waiters.push(lens);
    }
    if waiters.is_empty() {
        return;
    }
    // Every command's start offset in the whole stream, in order.
    let lens: Vec<u32> = waiters.iter().flatten().copied().collect();
    let mut starts = Vec::with_capacity(lens.len());
    let mut at = 0u64;
    for &l in &lens {
        starts.push(at);
        at += u64::from(l);
    }
    let total = at;

    // The writer takes batches of whole waiters, as the driver does.
    let mut ledger = WriteLedger::default();
    let mut accepted_total = 0u64;
    let mut next_cmd = 0usize;
    let mut waiter_index = 0usize;
    let close_after_writes = input.byte().map(usize::from).unwrap_or(255);
    let mut writes = 0usize;
    let mut last_sent = 0u64;
    'batches: while waiter_index < waiters.len() {
        let take = usize::from(input.byte().unwrap_or(255) % 4) + 1;
        let end = (waiter_index + take).min(waiters.len());
        let batch_lens: Vec<u32> = waiters[waiter_index..end].iter().flatten().copied().collect();
        waiter_index = end;
        let batch_bytes: u64 = batch_lens.iter().map(|&l| u64::from(l)).sum();
        ledger.begin(next_cmd as u64);
        let mut off = 0u64;
        while off < batch_bytes {
            if writes >= close_after_writes {
                // The close: nothing more is written.
                break 'batches;
            }
            writes += 1;
            // The socket takes 0..=remaining bytes; 0 means "would block" here.
            let want = input.byte().map(u64::from).unwrap_or(255);
            let n = (want * 3).min(batch_bytes - off);
            if n == 0 {
                continue;
            }
            off += n;
            accepted_total += n;
            let sent = ledger.accepted(n as usize, &batch_lens);
            assert!(sent >= last_sent, "the ledger moved backwards");
            last_sent = sent;
            // The ledger counts exactly the commands whose first byte was taken.
            let touched = starts.iter().take_while(|&&s| s < accepted_total).count() as u64;
            assert_eq!(sent, touched, "ledger {sent} vs bytes taken {accepted_total}");
        }
        next_cmd += batch_lens.len();
    }
    assert!(accepted_total <= total);

    // The close: every waiter's fate from the ledger, checked against the bytes.
    let sent = ledger.sent();
    let mut first = 0u64;
    for w in &waiters {
        let count = w.len() as u32;
        let touched: Vec<bool> =
            (0..w.len()).map(|i| starts[first as usize + i] < accepted_total).collect();
        match fate(first, count, sent) {
            Fate::NotSent => assert!(touched.iter().all(|t| !t), "NotSent but a byte left"),
            Fate::Unknown => assert!(touched.iter().all(|t| *t), "Unknown but a command never left"),
            Fate::Partial { sent: k } => {
                assert!(k > 0 && k < count);
                for (i, t) in touched.iter().enumerate() {
                    assert_eq!(*t, (i as u32) < k, "Partial {{ sent: {k} }} at command {i}");
                }
            }
        }
        first += u64::from(count);
    }
});
