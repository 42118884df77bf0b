//! `MULTI`/`EXEC`: the atomic pipeline on one server, the reading of
//! `EXEC`'s reply shared with the cluster, and the `WATCH` helper
//! [`transaction()`] with its retries on abort.
//!
//! Not here: the cluster's choice of node (`cluster`), the builder (`mod`).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{Pipeline, PipelineExecutor};
use crate::client::Client;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::commands::Execute;
use crate::conn::Connection;
use crate::error::Error;
use crate::pool::Pooled;
use crate::resp::Frame;
use crate::route::check_shared;

/// How many times [`transaction()`] tries before [`Error::TransactionAborted`].
pub const DEFAULT_ATTEMPTS: u32 = 16;

/// Connect errors: nothing was sent (except bad credentials or TLS, kept as they are).
pub(crate) fn connect_error(e: Error) -> Error {
    match e {
        e @ (Error::Auth(_) | Error::Tls(_)) => e,
        e => Error::NotSent { cause: Arc::new(e) },
    }
}

/// `MULTI`, `cmds`, `EXEC` in one write on `conn`; `EXEC`'s replies.
///
/// # Errors
/// As [`exec_replies`]; connection failures, `NotSent` when `EXEC` never
/// left the process (then nothing ran).
pub(crate) async fn run_multi(conn: &Connection, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
    let mut all = Vec::with_capacity(cmds.len() + 2);
    all.push(cmd("MULTI"));
    all.extend(cmds.iter().cloned());
    all.push(cmd("EXEC"));
    match conn.send_pipeline(&all).await {
        Ok(replies) => exec_replies(replies),
        Err(Error::PipelineIncomplete { not_sent, cause, .. }) if not_sent > 0 => {
            Err(Error::NotSent { cause })
        }
        Err(e) => Err(e),
    }
}

/// `EXEC`'s replies, from the replies to `MULTI`, each queued command and `EXEC`.
///
/// # Errors
/// [`Error::Server`] with the first refusal (of `MULTI`, or of a command the
/// server would not queue: the transaction was discarded, nothing ran) or
/// `EXEC`'s own error; [`Error::TransactionAborted`] for a null `EXEC` (a
/// watched key changed); [`Error::Type`] for another reply shape.
pub(crate) fn exec_replies(mut replies: Vec<Frame>) -> Result<Vec<Frame>, Error> {
    let exec = replies.pop().map(Frame::strip_attributes);
    for r in &replies {
        if let Frame::SimpleError(e) | Frame::BlobError(e) = r.value() {
            return Err(Error::Server(e.clone()));
        }
    }
    match exec {
        Some(Frame::Array(items)) => Ok(items),
        Some(Frame::SimpleError(e) | Frame::BlobError(e)) => Err(Error::Server(e)),
        Some(f) if f.is_null() => Err(Error::TransactionAborted { attempts: 1 }),
        Some(other) => {
            Err(Error::Type { expected: "EXEC's array of replies", got: other.type_name().into() })
        }
        None => Err(Error::Type { expected: "EXEC's array of replies", got: "no reply".into() }),
    }
}

/// The atomic pipeline on one server: one write on the shared connection,
/// sent again only when it never left the process.
pub(crate) async fn atomic_standalone(client: &Client, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
    for c in cmds {
        check_shared(c)?;
    }
    let _writes = client.own_writes(cmds);
    let mut resends = 0;
    loop {
        let conn = client.multiplexed().connection().await.map_err(connect_error)?;
        match run_multi(&conn, cmds).await {
            Err(Error::NotSent { .. }) if resends < 3 => resends += 1,
            other => return other,
        }
    }
}

/// The exclusive connection of a [`transaction()`], for reads between
/// `WATCH` and `MULTI`: every command group works on it (`use
/// redwire::commands::*`). Clones share the connection.
///
/// Commands that would change its state (`MULTI`, `EXEC`, `WATCH`,
/// `SUBSCRIBE`, `SELECT` ...) are refused with
/// [`Error::NotOnSharedConnection`]: the helper sends those. On a cluster
/// the connection is to the primary of the watched keys' slot: a key of
/// another slot gets a `MOVED` error reply.
#[derive(Clone, Debug)]
pub struct Watched {
    conn: Arc<Mutex<Pooled>>,
}

impl Execute for Watched {
    async fn execute(&self, c: &Cmd) -> Result<Frame, Error> {
        check_shared(c)?;
        self.conn.lock().await.send(c).await
    }
}

/// [`transaction_with`] with [`DEFAULT_ATTEMPTS`].
///
/// # Errors
/// As [`transaction_with`].
pub async fn transaction<C, K, T, F, Fut>(client: &C, keys: &[K], f: F) -> Result<T, Error>
where
    C: PipelineExecutor + ?Sized,
    K: ToArg,
    T: FromReply,
    F: FnMut(Watched) -> Fut + Send,
    Fut: Future<Output = Result<Pipeline, Error>> + Send,
{
    transaction_with(client, keys, DEFAULT_ATTEMPTS, f).await
}

/// Optimistic locking: `WATCH keys` on an exclusive connection, call `f`
/// (which may read through the [`Watched`] connection and returns the
/// pipeline of writes), then `MULTI`, the pipeline's commands, `EXEC`. When
/// a watched key changed in between, `EXEC` is aborted and nothing ran: the
/// whole round (`WATCH`, `f`, `EXEC`) runs again, up to `max_attempts`
/// times. Returns `EXEC`'s replies converted as [`Pipeline::query`] does.
///
/// ```no_run
/// # async fn f(client: &redwire::Client) -> redwire::Result<()> {
/// use redwire::commands::*;
/// let (balance,): (i64,) = redwire::pipeline::transaction(client, &["balance"], |conn| async move {
///     let now: i64 = conn.get("balance").await?.map_or(Ok(0), |b| {
///         std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok()).ok_or(redwire::Error::Type {
///             expected: "an integer", got: "text".into() })
///     })?;
///     let mut p = redwire::pipe();
///     p.set("balance", now + 10).ignore().incr("balance");
///     Ok(p)
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// On a cluster all `keys` must hash to one slot, and the pipeline's keys to
/// that slot too (the server refuses others: [`Error::Server`], nothing ran).
/// `MULTI`, the commands and `EXEC` go one round trip each on the exclusive
/// connection.
///
/// # Errors
/// [`Error::CrossSlot`] on a cluster when `keys` span slots; [`Error::TransactionAborted`]
/// after `max_attempts` aborts; `f`'s error (the keys are unwatched);
/// [`Error::Server`] for a command the server refused to queue (nothing
/// ran) or the first error reply among `EXEC`'s; [`Error::Type`] for
/// replies that do not convert; connection failures: `NotSent` when the
/// connection broke before `EXEC` was written (nothing ran), otherwise as
/// the connection reports them (`EXEC`'s outcome may be unknown).
///
/// # Cancel safety
/// Dropping the future discards the exclusive connection (it is not put
/// back in the pool in the middle of a transaction); an `EXEC` already
/// written may still run.
pub async fn transaction_with<C, K, T, F, Fut>(
    client: &C,
    keys: &[K],
    max_attempts: u32,
    mut f: F,
) -> Result<T, Error>
where
    C: PipelineExecutor + ?Sized,
    K: ToArg,
    T: FromReply,
    F: FnMut(Watched) -> Fut + Send,
    Fut: Future<Output = Result<Pipeline, Error>> + Send,
{
    let watch = cmd("WATCH").arg(keys);
    let conn = Arc::new(Mutex::new(client.watch_connection(&watch).await?));
    let watch = (watch.argc() > 1).then_some(watch);
    let max_attempts = max_attempts.max(1);
    for _ in 0..max_attempts {
        if let Some(watch) = &watch {
            crate::commands::expect_ok(conn.lock().await.send(watch).await?)?;
        }
        let pipe = match f(Watched { conn: conn.clone() }).await {
            Ok(pipe) => pipe,
            Err(e) => {
                // So the connection can go back to the pool; if this fails it is discarded.
                let _ = conn.lock().await.send(&cmd("UNWATCH")).await;
                return Err(e);
            }
        };
        let mut guard = conn.lock().await;
        // The transaction runs on a connection of its own: this client's
        // cache drops the keys it writes at once, before and after.
        client.own_writes_done(pipe.commands());
        let result = exec_on(&mut guard, pipe.commands()).await;
        client.own_writes_done(pipe.commands());
        match result {
            Ok(frames) => return pipe.convert(frames),
            Err(Error::TransactionAborted { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::TransactionAborted { attempts: max_attempts })
}

/// `MULTI`, `cmds`, `EXEC` on a pooled connection (which tracks the state
/// each leaves); `EXEC`'s replies.
async fn exec_on(conn: &mut Pooled, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
    for c in cmds {
        check_shared(c)?;
    }
    let not_sent = |e: Error| Error::NotSent { cause: Arc::new(e) };
    let mut replies = Vec::with_capacity(cmds.len() + 2);
    // Until EXEC is written nothing runs: a failure before it is "not sent".
    replies.push(conn.send(&cmd("MULTI")).await.map_err(not_sent)?);
    for c in cmds {
        replies.push(conn.send(c).await.map_err(not_sent)?);
    }
    replies.push(conn.send(&cmd("EXEC")).await?);
    exec_replies(replies)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::ServerError;

    fn ok() -> Frame {
        Frame::SimpleString(Bytes::from_static(b"OK"))
    }

    fn queued() -> Frame {
        Frame::SimpleString(Bytes::from_static(b"QUEUED"))
    }

    #[test]
    fn reads_exec_replies() {
        let exec = Frame::Array(vec![Frame::Integer(1), ok()]);
        assert_eq!(exec_replies(vec![ok(), queued(), queued(), exec]).unwrap(), [Frame::Integer(1), ok()]);
        let aborted = exec_replies(vec![ok(), queued(), Frame::NullArray]);
        assert!(matches!(aborted, Err(Error::TransactionAborted { attempts: 1 })), "{aborted:?}");
        let aborted = exec_replies(vec![ok(), queued(), Frame::Null]);
        assert!(matches!(aborted, Err(Error::TransactionAborted { .. })), "{aborted:?}");
    }

    #[test]
    fn a_refused_command_is_the_error() {
        let refused = Frame::SimpleError(ServerError::from_line("ERR wrong number of arguments").unwrap());
        let execabort =
            Frame::SimpleError(ServerError::from_line("EXECABORT Transaction discarded").unwrap());
        match exec_replies(vec![ok(), queued(), refused, execabort]) {
            Err(Error::Server(e)) => assert_eq!(e.code(), b"ERR"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(exec_replies(vec![]), Err(Error::Type { .. })));
    }
}
