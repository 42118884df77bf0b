//! Pipelines on a cluster: split by node, sent concurrently, reassembled in
//! the caller's order; atomic pipelines on the one slot they touch.
//!
//! A command whose keys map to one slot joins the pipeline of that slot's
//! primary (replicas are not used: a pipeline often reads what it wrote).
//! Others (keyless, fan-out, multi-key splits, blocking commands, slots
//! nobody serves yet) go alone through [`ClusterClient::send`], which
//! routes, splits and retries them as it does any command.
//!
//! After a node's pipeline:
//! - a command answered `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
//!   `LOADING`, `MASTERDOWN` or `READONLY` did not run: it is sent again
//!   alone through the router (which follows the redirect), in order;
//! - commands that never left the process are sent again the same way;
//! - commands that may have run unanswered (the connection broke) are sent
//!   again only when read-only or marked idempotent; the others make the
//!   result an [`Error::PipelineIncomplete`].
//!
//! Commands of one node run in the caller's order. A command that goes
//! alone is a barrier: what comes before it has been answered when it is
//! sent, so a pipeline's commands on one key always run in the caller's
//! order. Not here: standalone pipelines
//! (`Client::pipeline`), `MULTI`/`EXEC` framing (`transaction`).

use std::sync::Arc;

use crate::cmd::Cmd;
use crate::conn::Reconnecting;
use crate::error::{Error, NodeAddr, ServerErrorKind};
use crate::resp::Frame;
use crate::route::{command_info, is_retry_safe, key_slot, plan, ClusterClient, Target};

use super::transaction::{connect_error, run_multi};

/// One node's share of a pipeline: the caller's index and the command.
struct Batch {
    addr: NodeAddr,
    conn: Reconnecting,
    cmds: Vec<(usize, Cmd)>,
}

/// What became of one command of a node's pipeline.
enum Outcome {
    Answered(Frame),
    /// Did not run (redirected, refused before running, or never sent): send again.
    Resend,
    /// May have run, not answered, not safe to send again.
    Unknown(Error),
    /// Did not run and will not: the error says why.
    Failed(Error),
}

/// Sends `cmds` split by node; replies in the caller's order.
pub(crate) async fn pipeline(client: &ClusterClient, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
    // Plan everything first: a command that cannot be sent fails the
    // pipeline before anything is written. `None`: the command goes alone.
    let mut routes: Vec<Option<(NodeAddr, Reconnecting)>> = Vec::with_capacity(cmds.len());
    for c in cmds {
        let p = plan(c)?;
        routes.push(match p.target {
            Target::Slot(slot) if !c.is_blocking() && !p.info.is_blocking() => {
                client.primary_for_slot(slot).ok()
            }
            _ => None,
        });
    }
    // This client's own writes drop their cached keys at once, before and
    // after (the commands that go alone through `send` do so themselves too).
    let _writes = client.own_writes(cmds);
    let mut results: Vec<Option<Result<Frame, Error>>> = (0..cmds.len()).map(|_| None).collect();
    // A command that goes alone is a barrier: the per-node pipelines before
    // it finish first, those after it start after it, so every key sees the
    // caller's order.
    let mut start = 0;
    while start < cmds.len() {
        let end = routes[start..].iter().position(Option::is_none).map_or(cmds.len(), |k| start + k);
        if end > start {
            let mut batches: Vec<Batch> = Vec::new();
            for i in start..end {
                if let Some((addr, conn)) = &routes[i] {
                    match batches.iter_mut().find(|b| b.addr == *addr) {
                        Some(b) => b.cmds.push((i, cmds[i].clone())),
                        None => batches.push(Batch {
                            addr: addr.clone(),
                            conn: conn.clone(),
                            cmds: vec![(i, cmds[i].clone())],
                        }),
                    }
                }
            }
            for (i, r) in run_batches(client, batches).await? {
                results[i] = Some(r);
            }
        }
        if end < cmds.len() {
            results[end] = Some(client.send(&cmds[end]).await);
        }
        start = end + 1;
    }
    assemble(results.into_iter().map(|r| r.unwrap_or(Err(Error::Closed))).collect())
}

/// The per-node pipelines of one stretch of commands, concurrently.
async fn run_batches(
    client: &ClusterClient,
    mut batches: Vec<Batch>,
) -> Result<Vec<(usize, Result<Frame, Error>)>, Error> {
    if batches.len() == 1 {
        // One node: no task to spawn.
        if let Some(batch) = batches.pop() {
            return Ok(run_batch(client.clone(), batch).await);
        }
    }
    let mut set = tokio::task::JoinSet::new();
    for batch in batches {
        set.spawn(run_batch(client.clone(), batch));
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        out.extend(joined.map_err(|e| Error::Other(format!("pipeline part failed: {e}")))?);
    }
    Ok(out)
}

/// One node's pipeline, then the commands to send again, alone, in order.
async fn run_batch(client: ClusterClient, batch: Batch) -> Vec<(usize, Result<Frame, Error>)> {
    let cmds: Vec<Cmd> = batch.cmds.iter().map(|(_, c)| c.clone()).collect();
    let sent = match batch.conn.connection().await {
        Ok(conn) => conn.send_pipeline(&cmds).await,
        Err(e) => Err(connect_error(e)),
    };
    let outcomes = outcomes(&cmds, sent);
    let mut out = Vec::with_capacity(cmds.len());
    for ((i, c), outcome) in batch.cmds.into_iter().zip(outcomes) {
        let result = match outcome {
            Outcome::Answered(frame) => Ok(frame),
            Outcome::Resend => client.send(&c).await,
            Outcome::Unknown(e) | Outcome::Failed(e) => Err(e),
        };
        out.push((i, result));
    }
    out
}

/// What became of each command of a pipeline sent to one node.
fn outcomes(cmds: &[Cmd], sent: Result<Vec<Frame>, Error>) -> Vec<Outcome> {
    let n = cmds.len();
    let may_have_run = |c: &Cmd, e: &Error| {
        if is_retry_safe(c, &command_info(c)) {
            Outcome::Resend
        } else {
            Outcome::Unknown(e.clone())
        }
    };
    match sent {
        Ok(frames) if frames.len() == n => frames.into_iter().map(answered).collect(),
        Ok(frames) => {
            let e = Error::Type {
                expected: "one reply per command of the pipeline",
                got: format!("{} replies for {n} commands", frames.len()),
            };
            cmds.iter().map(|c| may_have_run(c, &e)).collect()
        }
        Err(Error::NotSent { .. }) => (0..n).map(|_| Outcome::Resend).collect(),
        Err(e @ (Error::Auth(_) | Error::Tls(_))) => (0..n).map(|_| Outcome::Failed(e.clone())).collect(),
        Err(Error::PipelineIncomplete { replies, unknown, cause, .. }) => {
            let prefix = replies.len();
            let unknown_err = Error::OutcomeUnknown { cause };
            let mut out: Vec<Outcome> = replies.into_iter().map(answered).collect();
            for (k, c) in cmds.iter().enumerate().skip(prefix) {
                if k < prefix + unknown as usize {
                    out.push(may_have_run(c, &unknown_err));
                } else {
                    out.push(Outcome::Resend);
                }
            }
            out
        }
        // OutcomeUnknown, Timeout, Closed ...: every command may have run.
        Err(e) => cmds.iter().map(|c| may_have_run(c, &e)).collect(),
    }
}

/// A reply, or `Resend` for an error reply that says the command did not
/// run here (redirected, or the node could not take it yet).
fn answered(frame: Frame) -> Outcome {
    if let Frame::SimpleError(e) | Frame::BlobError(e) = frame.value() {
        if matches!(
            e.kind(),
            ServerErrorKind::Moved { .. }
                | ServerErrorKind::Ask { .. }
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Loading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
        ) {
            return Outcome::Resend;
        }
    }
    Outcome::Answered(frame)
}

/// The replies in order, or [`Error::PipelineIncomplete`] keeping its
/// meaning: the answered prefix, then commands that may have run, then a
/// tail that did not run. A command answered after one that failed counts
/// as "may have run" (it did): the split is conservative, never optimistic.
fn assemble(results: Vec<Result<Frame, Error>>) -> Result<Vec<Frame>, Error> {
    let Some(first_err) = results.iter().position(Result::is_err) else {
        return Ok(results.into_iter().flatten().collect());
    };
    if results.len() == 1 {
        return results.into_iter().next().unwrap_or(Err(Error::Closed)).map(|f| vec![f]);
    }
    let not_sent =
        results.iter().rev().take_while(|r| matches!(r, Err(e) if !e.is_outcome_unknown())).count();
    let unknown = results.len() - first_err - not_sent;
    let mut it = results.into_iter();
    let replies: Vec<Frame> = it.by_ref().take(first_err).flatten().collect();
    let cause = match it.next() {
        Some(Err(e)) => e,
        _ => Error::Closed,
    };
    Err(Error::PipelineIncomplete {
        replies,
        unknown: u32::try_from(unknown).unwrap_or(u32::MAX),
        not_sent: u32::try_from(not_sent).unwrap_or(u32::MAX),
        cause: Arc::new(cause),
    })
}

/// The one slot `keys` hash to (`None` without keys).
///
/// # Errors
/// [`Error::CrossSlot`] when they span slots.
pub(crate) fn keys_slot<'a>(keys: impl Iterator<Item = &'a [u8]>) -> Result<Option<u16>, Error> {
    let mut slot = None;
    for key in keys {
        let s = key_slot(key);
        if slot.is_some_and(|known| known != s) {
            return Err(Error::CrossSlot);
        }
        slot = Some(s);
    }
    Ok(slot)
}

/// The atomic pipeline on a cluster: every key in one slot, `MULTI`/`EXEC`
/// on that slot's primary. A `MOVED` (the slot moved: the server discarded
/// the transaction) refreshes the map and tries again, a few times.
pub(crate) async fn atomic(client: &ClusterClient, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
    let mut slot: Option<u16> = None;
    for c in cmds {
        let p = plan(c)?;
        match p.target {
            Target::Slot(s) if slot.is_none_or(|known| known == s) => slot = Some(s),
            Target::AnyPrimary => {}
            _ => return Err(Error::CrossSlot),
        }
    }
    let slot = slot.unwrap_or(0);
    let _writes = client.own_writes(cmds);
    let mut attempt = 0u32;
    loop {
        let (_, node) = client.primary_for_slot(slot)?;
        let result = match node.connection().await {
            Ok(conn) => run_multi(&conn, cmds).await,
            Err(e) => Err(connect_error(e)),
        };
        let again = match &result {
            Err(Error::Server(e)) => matches!(
                e.kind(),
                ServerErrorKind::Moved { .. } | ServerErrorKind::TryAgain | ServerErrorKind::ClusterDown
            ),
            Err(Error::NotSent { .. }) => true,
            _ => false,
        };
        if !again || attempt >= 4 {
            return result;
        }
        client.request_refresh();
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::cmd::cmd;
    use crate::error::ServerError;

    fn cause() -> Arc<Error> {
        Arc::new(Error::Closed)
    }

    #[test]
    fn redirects_and_unsent_commands_are_sent_again() {
        let cmds = [cmd("GET").arg("a"), cmd("INCR").arg("b")];
        let moved = Frame::SimpleError(ServerError::from_line("MOVED 1 127.0.0.1:7000").unwrap());
        let out = outcomes(&cmds, Ok(vec![moved, Frame::Integer(1)]));
        assert!(matches!(out[..], [Outcome::Resend, Outcome::Answered(Frame::Integer(1))]));
        let out = outcomes(&cmds, Err(Error::NotSent { cause: cause() }));
        assert!(matches!(out[..], [Outcome::Resend, Outcome::Resend]));
    }

    #[test]
    fn a_write_that_may_have_run_is_never_sent_twice() {
        let cmds =
            [cmd("GET").arg("a"), cmd("INCR").arg("b"), cmd("INCR").arg("c"), cmd("SET").arg("d").arg(1)];
        let broken = Error::PipelineIncomplete {
            replies: vec![Frame::BulkString(Bytes::from_static(b"x"))],
            unknown: 2,
            not_sent: 1,
            cause: cause(),
        };
        let out = outcomes(&cmds, Err(broken));
        assert!(matches!(out[0], Outcome::Answered(_)));
        assert!(matches!(out[1], Outcome::Unknown(Error::OutcomeUnknown { .. })));
        assert!(matches!(out[2], Outcome::Unknown(_)));
        assert!(matches!(out[3], Outcome::Resend), "never sent: safe");
        let out = outcomes(&cmds[..2], Err(Error::OutcomeUnknown { cause: cause() }));
        assert!(matches!(out[..], [Outcome::Resend, Outcome::Unknown(_)]), "the read is sent again");
    }

    #[test]
    fn assembles_a_conservative_incomplete_error() {
        let one = || Ok(Frame::Integer(1));
        let unknown = || Err(Error::OutcomeUnknown { cause: cause() });
        let not_sent = || Err(Error::NotSent { cause: cause() });
        assert_eq!(assemble(vec![one(), one()]).unwrap().len(), 2);
        match assemble(vec![one(), unknown(), one(), not_sent()]) {
            Err(Error::PipelineIncomplete { replies, unknown, not_sent, .. }) => {
                assert_eq!((replies.len(), unknown, not_sent), (1, 2, 1));
            }
            other => panic!("{other:?}"),
        }
        match assemble(vec![one(), not_sent(), not_sent()]) {
            Err(e @ Error::PipelineIncomplete { .. }) => assert!(!e.is_outcome_unknown()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(assemble(vec![not_sent()]), Err(Error::NotSent { .. })));
    }
}
