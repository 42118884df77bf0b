//! Server and connection commands: `PING`, `ECHO`, `INFO`, `DBSIZE`,
//! `FLUSHDB`/`FLUSHALL`, `CONFIG GET/SET`, `CLIENT ID/SETNAME/GETNAME`,
//! `TIME`, `WAIT`, `LASTSAVE`, `MEMORY USAGE`.
//!
//! Not here: replication, ACL and cluster administration.
//!
//! Where a cluster differs (the router decides, see `route::split::FanOut`):
//! `DBSIZE` is the sum over the primaries; `FLUSHDB`, `FLUSHALL` and
//! `CONFIG SET` reach every primary (not the replicas) and succeed only if
//! every primary says `OK`; `MEMORY USAGE` goes to the key's node; every
//! other command here goes to one random primary, so `INFO`, `CONFIG GET`,
//! `LASTSAVE`, `TIME` and the `CLIENT` commands describe that node and that
//! connection only.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{expect_ok, Execute};
use crate::cmd::{cmd, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// How `FLUSHDB`/`FLUSHALL` free memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMode {
    /// No option: the server's `lazyfree-lazy-user-flush` decides.
    #[default]
    Default,
    /// `SYNC`: free before replying.
    Sync,
    /// `ASYNC`: free in the background.
    Async,
}

fn flush_cmd(name: &str, mode: FlushMode) -> crate::cmd::Cmd {
    match mode {
        FlushMode::Default => cmd(name),
        FlushMode::Sync => cmd(name).arg("SYNC"),
        FlushMode::Async => cmd(name).arg("ASYNC"),
    }
}

fn expect_pong(frame: Frame) -> Result<(), Error> {
    match frame.value() {
        Frame::SimpleString(s) | Frame::BulkString(s) if s.as_ref() == b"PONG" => Ok(()),
        Frame::SimpleError(e) | Frame::BlobError(e) => Err(Error::Server(e.clone())),
        other => Err(Error::Type { expected: "+PONG", got: other.type_name().into() }),
    }
}

/// The server group, for every [`Execute`].
pub trait ServerCommands: Execute {
    /// `PING`; the reply must be `PONG`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. `NOAUTH`);
    /// [`Error::Type`] for any other reply.
    fn ping(&self) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("PING");
        async move { expect_pong(self.execute(&c).await?) }
    }

    /// `ECHO message`: the message.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn echo<M: ToArg>(&self, message: M) -> impl Future<Output = Result<Bytes, Error>> + Send {
        let c = cmd("ECHO").arg(message);
        async move { self.query(&c).await }
    }

    /// `INFO [section]` as text (`# Section` headers, `field:value` lines).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn info(&self, section: Option<&str>) -> impl Future<Output = Result<String, Error>> + Send {
        let mut c = cmd("INFO");
        if let Some(s) = section {
            c = c.arg(s);
        }
        async move { self.query(&c).await }
    }

    /// `DBSIZE`: the number of keys (on a cluster, summed over the primaries).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn dbsize(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("DBSIZE");
        async move { self.query(&c).await }
    }

    /// `FLUSHDB [SYNC|ASYNC]`: deletes every key of the database (on a
    /// cluster, of every primary).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (from any primary);
    /// [`Error::Type`] unless `+OK`.
    fn flushdb(&self, mode: FlushMode) -> impl Future<Output = Result<(), Error>> + Send {
        let c = flush_cmd("FLUSHDB", mode);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `FLUSHALL [SYNC|ASYNC]`: deletes every key of every database.
    ///
    /// # Errors
    /// As [`ServerCommands::flushdb`].
    fn flushall(&self, mode: FlushMode) -> impl Future<Output = Result<(), Error>> + Send {
        let c = flush_cmd("FLUSHALL", mode);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `CONFIG GET pattern`: the matching parameters and values.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn config_get(
        &self,
        pattern: &str,
    ) -> impl Future<Output = Result<HashMap<String, String>, Error>> + Send {
        let c = cmd("CONFIG").arg("GET").arg(pattern);
        async move { self.query(&c).await }
    }

    /// `CONFIG SET parameter value` (on a cluster, on every primary; the
    /// replicas keep their value).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (unknown parameter, bad value);
    /// [`Error::Type`] unless `+OK`.
    fn config_set<V: ToArg>(
        &self,
        parameter: &str,
        value: V,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("CONFIG").arg("SET").arg(parameter).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `CLIENT ID`: the id of the connection the command ran on (the
    /// shared connection of a `Client`, which changes when it reconnects).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn client_id(&self) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("CLIENT").arg("ID");
        async move { self.query(&c).await }
    }

    /// `CLIENT SETNAME name`: names the connection the command runs on. On
    /// a `Client` that is the shared connection: every caller shares the
    /// name, and a reconnect loses it. On a cluster, one random primary's
    /// connection.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (spaces in the name);
    /// [`Error::Type`] unless `+OK`.
    fn client_setname<N: ToArg>(&self, name: N) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("CLIENT").arg("SETNAME").arg(name);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `CLIENT GETNAME`: the connection's name, `None` when unnamed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn client_getname(&self) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        let c = cmd("CLIENT").arg("GETNAME");
        async move { self.query(&c).await }
    }

    /// `TIME`: the server's clock.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] for a reply
    /// that is not `[seconds, microseconds]`.
    fn time(&self) -> impl Future<Output = Result<SystemTime, Error>> + Send {
        let c = cmd("TIME");
        async move {
            let (secs, micros): (u64, u64) = self.query(&c).await?;
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs) + Duration::from_micros(micros))
                .ok_or_else(|| Error::Type { expected: "a time", got: format!("{secs} seconds") })
        }
    }

    /// `WAIT numreplicas timeout-ms`: how many replicas acknowledged the
    /// writes made so far on the connection the command runs on.
    ///
    /// On a `Client` that is the shared connection, so it waits for every
    /// caller's writes, and holds the replies of every caller behind it for
    /// up to `timeout_ms` (0 = forever: avoid on a shared connection). On a
    /// cluster the router sends it, as a blocking command, to a pooled
    /// connection of a random primary, which made no writes: the answer then
    /// says only how many replicas that primary has in sync.
    ///
    /// # Errors
    /// Connection failures (including the response timeout for a long
    /// wait); [`Error::Server`].
    fn wait(&self, replicas: u64, timeout_ms: u64) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("WAIT").arg(replicas).arg(timeout_ms);
        async move { self.query(&c).await }
    }

    /// `LASTSAVE`: Unix time of the last successful save to disk.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn lastsave(&self) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("LASTSAVE");
        async move { self.query(&c).await }
    }

    /// `MEMORY USAGE key`: bytes used by the key and its value, `None` for a
    /// missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn memory_usage<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<u64>, Error>> + Send {
        let c = cmd("MEMORY").arg("USAGE").arg(key);
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> ServerCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_only() {
        assert!(expect_pong(Frame::SimpleString(Bytes::from_static(b"PONG"))).is_ok());
        assert!(expect_pong(Frame::SimpleString(Bytes::from_static(b"OK"))).is_err());
        assert!(expect_pong(Frame::Integer(1)).is_err());
    }
}
