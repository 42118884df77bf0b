//! The per-command probe: counts a command's outcome and time in `metrics`
//! and traces it at TRACE level, when those features are on. With both off
//! it is zero-sized and its methods do nothing.
//!
//! Not here: the rare events (`events`), the handle cache (`handles`).

use crate::cmd::Cmd;
use crate::error::Error;
use crate::resp::Frame;

#[cfg(any(feature = "metrics", feature = "tracing"))]
use std::time::Instant;

/// Started when a command is queued, finished with its reply.
pub(crate) struct CommandProbe<'a> {
    #[cfg(any(feature = "metrics", feature = "tracing"))]
    cmd: &'a Cmd,
    /// When the command was queued; `None` when nothing needs the time.
    #[cfg(any(feature = "metrics", feature = "tracing"))]
    start: Option<Instant>,
    #[cfg(not(any(feature = "metrics", feature = "tracing")))]
    _cmd: std::marker::PhantomData<&'a Cmd>,
}

impl<'a> CommandProbe<'a> {
    /// Starts timing `cmd`.
    #[inline]
    pub(crate) fn start(cmd: &'a Cmd) -> CommandProbe<'a> {
        #[cfg(any(feature = "metrics", feature = "tracing"))]
        {
            let timed = cfg!(feature = "metrics") || trace_enabled();
            CommandProbe { cmd, start: timed.then(Instant::now) }
        }
        #[cfg(not(any(feature = "metrics", feature = "tracing")))]
        {
            let _ = cmd;
            CommandProbe { _cmd: std::marker::PhantomData }
        }
    }

    /// Records the outcome and passes the result through.
    #[inline]
    pub(crate) fn finish(self, result: Result<Frame, Error>) -> Result<Frame, Error> {
        #[cfg(any(feature = "metrics", feature = "tracing"))]
        {
            let elapsed = self.start.map(|s| s.elapsed());
            #[cfg(feature = "metrics")]
            {
                match (&result, elapsed) {
                    (Ok(f), Some(d)) if !f.is_error() => super::handles::with_command(self.cmd.name(), |h| {
                        h.ok.increment(1);
                        h.duration.record(d.as_secs_f64());
                    }),
                    (r, d) => {
                        super::events::count_outcome(outcome(r), server_kind(r), 1);
                        if let Some(d) = d {
                            super::handles::with_command(self.cmd.name(), |h| {
                                h.duration.record(d.as_secs_f64())
                            });
                        }
                    }
                }
            }
            #[cfg(feature = "tracing")]
            if let Some(d) = elapsed.filter(|_| trace_enabled()) {
                tracing::trace!(
                    target: "redwire::conn",
                    command = %String::from_utf8_lossy(self.cmd.name()),
                    outcome = outcome(&result),
                    duration_us = d.as_micros() as u64,
                    "command"
                );
            }
        }
        result
    }
}

#[cfg(feature = "tracing")]
fn trace_enabled() -> bool {
    tracing::enabled!(target: "redwire::conn", tracing::Level::TRACE)
}

#[cfg(all(feature = "metrics", not(feature = "tracing")))]
fn trace_enabled() -> bool {
    false
}

/// The `outcome` label of a command's result.
#[cfg(any(feature = "metrics", feature = "tracing"))]
pub(super) fn outcome(result: &Result<Frame, Error>) -> &'static str {
    match result {
        Ok(f) if f.is_error() => "server_error",
        Ok(_) => "ok",
        Err(e) => error_outcome(e),
    }
}

/// The `outcome` label of a command that failed with `e`.
#[cfg(any(feature = "metrics", feature = "tracing"))]
pub(super) fn error_outcome(e: &Error) -> &'static str {
    match e {
        Error::Server(_) => "server_error",
        Error::NotSent { .. } | Error::Closed => "not_sent",
        Error::Timeout => "timeout",
        Error::OutcomeUnknown { cause } if matches!(**cause, Error::Timeout) => "timeout",
        Error::OutcomeUnknown { .. } => "outcome_unknown",
        _ => "error",
    }
}

/// The server error's kind, for the `kind` label.
#[cfg(feature = "metrics")]
fn server_kind(result: &Result<Frame, Error>) -> Option<&'static str> {
    match result {
        Ok(Frame::SimpleError(e) | Frame::BlobError(e)) | Err(Error::Server(e)) => {
            Some(super::events::server_kind_label(e.kind()))
        }
        _ => None,
    }
}
