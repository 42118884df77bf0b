//! The end-to-end harness behind `bench/run-e2e.sh`: redwire, redis-rs and
//! fred driven with the same verified GET/SET load against real Valkey.
//!
//! One run is one process and one client library, so `getrusage` CPU is that
//! client's alone. The pieces, in the order a run uses them:
//!
//! | module | what lives there |
//! |---|---|
//! | [`args`] | the command line of `e2e` (duration, ratio, topology, key distribution, `--cache`) |
//! | [`driver`] | one enum over the three clients: connect (with or without their client-side cache), `GET`, `SET`, error kinds, cache counters; the `redwire_load::Driver` for it |
//! | [`load`] | one run: the shared generator (`redwire-load`), the kill, the summary |
//! | [`watch`] | the failover helpers: SIGKILL at a time, wait for a replica's promotion |
//! | [`failover`] | pure analysis of a failover run (re-exported from `redwire-load`) |
//! | [`summary`] | the JSON record of a run (written by `e2e`, read by `e2e-report` and `e2e-plot`) |
//! | [`report`] | markdown tables, redwire/peer and cache on/off ratios from many records |
//! | `recorder` | feature `metrics`: the cheap recorder `e2e` installs to measure redwire's `metrics` feature |
//!
//! Not here: the load loop, the verification of every `GET`, the histograms
//! and the SVG writer (all in `redwire-load`, shared with `redwire bench`);
//! the decode micro-benchmark (`benches/decode.rs`); starting or stopping
//! servers (that is `run-e2e.sh`).

pub mod args;
pub mod driver;
pub mod load;
#[cfg(feature = "metrics")]
pub mod recorder;
pub mod report;
pub mod summary;
pub mod watch;

pub use redwire_load::failover;
