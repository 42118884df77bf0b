//! The pub/sub side-by-side bench behind `src/bin/pubsub.rs` and
//! `run-pubsub.sh`: one publisher and N subscribers on one channel, redwire
//! and redis-rs driven the same way, every message checked for loss and order
//! and timed from publish to receive.
//!
//! | module | what lives there |
//! |---|---|
//! | [`payload`] | the message: sequence number + send time, padded; the shared clock |
//! | [`tally`] | one subscriber's checks (loss, order, duplicates) and latency histogram |
//! | [`window`] | in-flight publishes, queued in sequence order, bounded by the caller |
//! | [`client`] | redwire and redis-rs behind one publisher and one subscriber shape |
//! | [`run`] | one measured run: tasks, watchdog, CPU, the [`run::Report`] |
//!
//! Included by the binary with `#[path]` (the bench crate's `lib.rs` belongs
//! to the e2e harness). Not here: the command line, output formats, and
//! starting servers (`run-pubsub.sh`).

pub mod client;
pub mod payload;
pub mod run;
pub mod tally;
pub mod window;

#[cfg(test)]
mod tests;
