//! Store operations without Lua, for ACL users refused scripting (`NOPERM`).
//!
//! Lives here: [`Scripting`], the per-store memory that the server refused
//! `EVALSHA`/`EVAL`, and the plain-command stand-ins for the two scripts of
//! `remote`. Not here: choosing between them (`remote` asks [`Scripting`]
//! before each script call), the scripts themselves.
//!
//! The stand-ins and how they differ from the scripts (also in LEAST_PRIVILEGE.md):
//!
//! - counter with a ttl: `INCRBY key delta`, then `PEXPIRE key ttl NX`
//!   (Redis 7+ / Valkey). Two commands, not one atomic step: a client that
//!   stops between them leaves the counter without an expiry until the next
//!   call with a ttl sets it (`NX` sets it only when there is none, as the
//!   script does). The value returned is the same.
//! - lock release: `GET key` and `PTTL key`; when the key holds our token and
//!   has more than [`RELEASE_MARGIN`] left to live, `DEL key`; when it holds
//!   our token but expires sooner, nothing is deleted and the release reports
//!   success (the lock frees itself within the margin). The script compares
//!   and deletes atomically; here another owner could only take the lock
//!   between our `GET` and `DEL` if it expired in between, which the margin
//!   rules out unless that round trip takes longer than it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cmd::{Cmd, FromReply};
use crate::error::{Error, Result, ServerErrorKind};
use crate::resp::Frame;

/// A lock that expires sooner than this is left to expire rather than deleted.
pub const RELEASE_MARGIN: Duration = Duration::from_secs(2);

/// Whether the server refused this store's scripts. Clones share it.
#[derive(Clone, Debug, Default)]
pub(super) struct Scripting {
    refused: Arc<AtomicBool>,
}

impl Scripting {
    /// True once a script call was refused with `NOPERM`.
    pub(super) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// True (and remembered) when `error` is the server refusing a script
    /// with `NOPERM`: the script did not run, so the stand-in may.
    pub(super) fn refuses(&self, error: &Error) -> bool {
        let noperm = is_noperm(error);
        if noperm {
            self.refused.store(true, Ordering::Relaxed);
        }
        noperm
    }
}

/// True for the server's `NOPERM` (an ACL rule refused the command; it did not run).
pub(super) fn is_noperm(error: &Error) -> bool {
    matches!(error, Error::Server(e) if *e.kind() == ServerErrorKind::NoPerm)
}

async fn query<T, S, F>(send: &S, c: Cmd) -> Result<T>
where
    T: FromReply,
    S: Fn(Cmd) -> F,
    F: Future<Output = Result<Frame>>,
{
    T::from_reply(send(c).await?)
}

fn key_cmd(name: &str, key: &[u8]) -> Cmd {
    let mut c = Cmd::with_capacity(name, key.len() + 48);
    c.push_bytes(key);
    c
}

/// `INCRBY key delta` then `PEXPIRE key ttl_ms NX`; returns the new value.
pub(super) async fn incr_with_ttl<S, F>(send: S, key: &[u8], delta: i64, ttl_ms: u64) -> Result<i64>
where
    S: Fn(Cmd) -> F,
    F: Future<Output = Result<Frame>>,
{
    let mut incr = key_cmd("INCRBY", key);
    incr.push_arg(delta);
    let n: i64 = query(&send, incr).await?;
    let mut expire = key_cmd("PEXPIRE", key);
    expire.push_arg(ttl_ms).push_arg("NX");
    query::<i64, _, _>(&send, expire).await?;
    Ok(n)
}

/// Releases the lock at `key` if it holds `token` (see the module doc);
/// true if it did.
pub(super) async fn remove_lock<S, F>(send: S, key: &[u8], token: &[u8]) -> Result<bool>
where
    S: Fn(Cmd) -> F,
    F: Future<Output = Result<Frame>>,
{
    let (value, pttl) = tokio::join!(
        query::<Option<bytes::Bytes>, _, _>(&send, key_cmd("GET", key)),
        query::<i64, _, _>(&send, key_cmd("PTTL", key))
    );
    if value?.as_deref() != Some(token) {
        return Ok(false);
    }
    let margin = i64::try_from(RELEASE_MARGIN.as_millis()).unwrap_or(i64::MAX);
    let pttl = pttl?;
    // -1: no expiry (set by hand); -2: gone since the GET.
    if pttl == -2 {
        return Ok(false);
    }
    if pttl >= 0 && pttl <= margin {
        return Ok(true);
    }
    Ok(query::<i64, _, _>(&send, key_cmd("DEL", key)).await? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    #[test]
    fn only_noperm_switches_scripting_off() {
        let scripting = Scripting::default();
        let other = Error::Server(ServerError::parse(bytes::Bytes::from_static(b"ERR something")).unwrap());
        assert!(!scripting.refuses(&other) && !scripting.refused());
        let clone = scripting.clone();
        let noperm = Error::Server(
            ServerError::parse(bytes::Bytes::from_static(
                b"NOPERM User x has no permissions to run the 'evalsha' command",
            ))
            .unwrap(),
        );
        assert!(scripting.refuses(&noperm));
        assert!(clone.refused(), "clones share the memory");
    }
}
