//! redwire's one verified load generator: N tasks share one client and loop
//! GET/SET (optionally MGET/INCR) on self-describing values until a
//! deadline, every value read is verified, and the run is measured per
//! 100 ms, per second and in an HDR histogram; a failover can be marked and
//! analysed, and the run drawn as an SVG picture.
//!
//! Used by `redwire bench` (`cli/`), the side-by-side harness (`bench/`,
//! redwire against redis-rs and fred) and the cluster drills
//! (`tests/cluster.rs`). A client enters through [`Driver`]; this crate
//! depends on no client library.
//!
//! | module | what lives there |
//! |---|---|
//! | [`driver`] | the [`Driver`] trait and [`Failure`] |
//! | [`config`] | [`LoadConfig`] and the operation [`Mix`] |
//! | [`value`] | key names and values that carry key and version (pure) |
//! | [`verify`] | the judgement of every read (pure) |
//! | [`mod@run`] | the loop: prefill, tasks, the [`Running`] handle |
//! | `tally` | the counters the tasks share |
//! | [`measure`] | histograms, CPU time, latency bins |
//! | [`report`] | [`Report`]: what a run measured |
//! | [`failover`] | pure analysis of a fault: baseline, stall, recovery |
//! | [`plot`] | SVG pictures of one run or several side by side (pure) |

pub mod config;
pub mod driver;
pub mod failover;
mod keys;
pub mod measure;
pub mod plot;
pub mod report;
pub mod run;
mod tally;
pub mod value;
pub mod verify;

pub use config::{KeyDist, LoadConfig, Mix};
pub use driver::{Driver, Failure};
pub use report::{Bucket, Report, Second};
pub use run::{run, start, Marker, Progress, Running};

#[cfg(test)]
mod tests;
