//! The client users hold: a generic `send`/`query`, pipelines, transactions,
//! and typed methods for the commands the store and pub/sub need.
//!
//! A standalone `Client` sends ordinary commands over one multiplexed,
//! self-healing connection ([`Reconnecting`]) and checks exclusive
//! connections out of its [`Pool`] ([`Client::exclusive`]) for blocking and
//! stateful work. Blocking means: commands marked
//! [`Cmd::blocking`], and the blocking commands known by name (BLPOP, XREAD
//! BLOCK ...) when they are not. Commands that would change the shared
//! connection's state under every other caller (SUBSCRIBE, MULTI, WATCH,
//! SELECT, CLIENT REPLY, MONITOR ...) are refused with
//! [`Error::NotOnSharedConnection`], which names the API to use instead.
//! Not here: key slots and redirects (`route`), the store semantics (`store`).
//!
//! Every async method is cancel-safe in the sense of [`Connection::send`]:
//! dropping the future abandons the reply; the connection stays in sync.
//!
//! [`Connection::send`]: crate::conn::Connection::send

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::conn::{ConnectOptions, Reconnecting};
use crate::error::{Error, ServerErrorKind, UseInstead};
use crate::pool::{Pool, PoolOptions, Pooled};
use crate::resp::Frame;
use crate::route::check_shared;

/// A standalone client: one multiplexed connection plus a pool for exclusive use.
#[derive(Clone, Debug)]
pub struct Client {
    conn: Reconnecting,
    pool: Pool,
}

/// Expiry of a `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`
    Seconds(u64),
    /// `PX milliseconds`
    Millis(u64),
    /// `KEEPTTL`
    KeepTtl,
}

/// Condition of a `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// Options of `SET`; the default is a plain `SET key value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// `EX`/`PX`/`KEEPTTL`.
    pub expiry: Option<Expiry>,
    /// `NX`/`XX`.
    pub condition: Option<SetCondition>,
    /// `GET`: return the old value.
    pub get: bool,
}

impl SetOptions {
    /// Appends the options to a `SET` command.
    pub fn apply(&self, mut c: Cmd) -> Cmd {
        match self.expiry {
            Some(Expiry::Seconds(s)) => c = c.arg("EX").arg(s),
            Some(Expiry::Millis(ms)) => c = c.arg("PX").arg(ms),
            Some(Expiry::KeepTtl) => c = c.arg("KEEPTTL"),
            None => {}
        }
        match self.condition {
            Some(SetCondition::IfAbsent) => c = c.arg("NX"),
            Some(SetCondition::IfPresent) => c = c.arg("XX"),
            None => {}
        }
        if self.get {
            c = c.arg("GET");
        }
        c
    }
}

/// A Lua script sent by SHA1 (`EVALSHA`), loaded with `EVAL` on `NOSCRIPT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: Arc<str>,
    sha: Arc<str>,
}

impl Script {
    /// Wraps a script and computes its SHA1.
    pub fn new(source: &str) -> Script {
        let sha = sha1_smol::Sha1::from(source.as_bytes()).digest().to_string();
        Script { source: source.into(), sha: sha.into() }
    }

    /// The script's SHA1 in hex.
    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// The script's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `EVALSHA sha numkeys keys... args...`.
    pub fn evalsha_cmd<K: ToArg, A: ToArg>(&self, keys: &[K], args: &[A]) -> Cmd {
        cmd("EVALSHA").arg(&*self.sha).arg(keys.len()).args_from(keys).args_from(args)
    }

    /// `EVAL source numkeys keys... args...`.
    pub fn eval_cmd<K: ToArg, A: ToArg>(&self, keys: &[K], args: &[A]) -> Cmd {
        cmd("EVAL").arg(&*self.source).arg(keys.len()).args_from(keys).args_from(args)
    }
}

/// One page of `SCAN`: the next cursor (0 = done) and the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    /// Cursor for the next call; 0 when the scan is complete.
    pub cursor: u64,
    /// Keys of this page (may be empty even when the scan goes on).
    pub keys: Vec<Bytes>,
}

impl FromReply for ScanPage {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let (cursor, keys): (Bytes, Vec<Bytes>) = FromReply::from_reply(frame)?;
        let cursor = std::str::from_utf8(&cursor)
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::Type { expected: "a SCAN cursor", got: "non-numeric text".into() })?;
        Ok(ScanPage { cursor, keys })
    }
}

impl Client {
    /// A client for the server of `opts`, with a pool of exclusive connections.
    /// Connects eagerly, so a wrong address or password shows here.
    ///
    /// # Errors
    /// As [`crate::conn::Connection::connect`].
    pub async fn connect(opts: ConnectOptions, pool: PoolOptions) -> Result<Client, Error> {
        let conn = Reconnecting::connect(opts.clone(), None, None).await?;
        Ok(Client { conn, pool: Pool::new(opts, pool) })
    }

    /// A client from a URL (see [`crate::url::parse_url`]) with default pool settings.
    ///
    /// # Errors
    /// [`Error::Url`] for a bad URL, otherwise as [`Client::connect`].
    pub async fn open(url: &str) -> Result<Client, Error> {
        Client::connect(crate::url::parse_url(url)?, PoolOptions::default()).await
    }

    /// The shared multiplexed connection.
    pub fn multiplexed(&self) -> &Reconnecting {
        &self.conn
    }

    /// The pool of exclusive connections.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Checks an exclusive connection out of the pool (for BLPOP, WATCH ...).
    ///
    /// # Errors
    /// [`Error::Pool`] on timeouts, or the connect error.
    pub async fn exclusive(&self) -> Result<Pooled, Error> {
        self.pool.get().await
    }

    /// Sends one command; error replies come back as frames.
    ///
    /// Blocking commands go to an exclusive connection from the pool.
    /// Commands that would change the shared connection's state for every
    /// other caller (SUBSCRIBE, MULTI, WATCH, SELECT, CLIENT REPLY, MONITOR
    /// ...; see [`crate::route::Flags::STATEFUL`]) are refused: use the
    /// pub/sub `Subscriber`, [`Client::transaction`] or [`Client::exclusive`].
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] for those, before sending; connection
    /// failures, see [`crate::conn`]'s failure semantics.
    pub async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        check_shared(c)?;
        if c.is_blocking() {
            // A blocking command would stall every caller queued behind it.
            return self.exclusive().await?.send(c).await;
        }
        if is_known_blocking(c) {
            // Unmarked, it would also be cut off by the response timeout,
            // closing the shared connection under every other caller.
            return self.exclusive().await?.send(&c.clone().blocking()).await;
        }
        self.conn.send(c).await
    }

    /// Sends one command and converts its reply.
    ///
    /// # Errors
    /// As [`Client::send`], plus [`Error::Server`] and [`Error::Type`].
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T, Error> {
        T::from_reply(self.send(c).await?)
    }

    /// Sends commands in one write; replies in order, error replies as frames.
    ///
    /// A pipeline runs on the shared connection: the commands [`Client::send`]
    /// refuses are refused here too, and so are blocking ones (they would
    /// hold every other caller's reply back; send them alone).
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] naming the first such command, before
    /// anything is sent; connection failures for the pipeline as a whole.
    pub async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        check_batch(cmds)?;
        let mut resends = 0;
        loop {
            let conn = self.conn.connection().await.map_err(connect_error)?;
            match conn.send_pipeline(cmds).await {
                Err(Error::NotSent { .. }) if resends < 3 => resends += 1,
                other => return other,
            }
        }
    }

    /// Runs `cmds` in `MULTI`/`EXEC`; returns EXEC's replies.
    ///
    /// `MULTI` and `EXEC` are added here, in the same write as the commands,
    /// so no other caller's command falls inside the transaction. The
    /// commands themselves must leave the shared connection as they found it:
    /// the ones [`Client::pipeline`] refuses are refused here too.
    ///
    /// # Errors
    /// [`Error::NotOnSharedConnection`] before sending, as above;
    /// [`Error::Server`] when the transaction is aborted; connection failures.
    pub async fn transaction(&self, cmds: &[Cmd]) -> Result<Vec<Frame>, Error> {
        check_batch(cmds)?;
        let mut resends = 0;
        loop {
            let conn = self.conn.connection().await.map_err(connect_error)?;
            match conn.transaction(cmds).await {
                Err(Error::NotSent { .. }) if resends < 3 => resends += 1,
                other => return other,
            }
        }
    }

    /// `GET key`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn get<K: ToArg>(&self, key: K) -> Result<Option<Bytes>, Error> {
        self.query(&cmd("GET").arg(key)).await
    }

    /// `SET key value` with options; returns the old value with `get`,
    /// otherwise `Some(empty)`/`None` for set / not set (NX/XX).
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn set_with<K: ToArg, V: ToArg>(
        &self,
        key: K,
        value: V,
        opts: SetOptions,
    ) -> Result<Option<Bytes>, Error> {
        let frame = self.send(&opts.apply(cmd("SET").arg(key).arg(value))).await?;
        match frame {
            Frame::SimpleString(_) if !opts.get => Ok(Some(Bytes::new())),
            other => FromReply::from_reply(other),
        }
    }

    /// `SET key value`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn set<K: ToArg, V: ToArg>(&self, key: K, value: V) -> Result<(), Error> {
        self.query(&cmd("SET").arg(key).arg(value)).await
    }

    /// `SET key value EX seconds`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn set_ex<K: ToArg, V: ToArg>(&self, key: K, value: V, ttl: Duration) -> Result<(), Error> {
        self.query(&cmd("SET").arg(key).arg(value).arg("PX").arg(ttl.as_millis().max(1) as u64)).await
    }

    /// `DEL keys...`: number removed.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn del<K: ToArg>(&self, keys: &[K]) -> Result<u64, Error> {
        self.query(&cmd("DEL").args_from(keys)).await
    }

    /// `UNLINK keys...`: number removed.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn unlink<K: ToArg>(&self, keys: &[K]) -> Result<u64, Error> {
        self.query(&cmd("UNLINK").args_from(keys)).await
    }

    /// `EXISTS keys...`: how many exist.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn exists<K: ToArg>(&self, keys: &[K]) -> Result<u64, Error> {
        self.query(&cmd("EXISTS").args_from(keys)).await
    }

    /// `EXPIRE key seconds`: true if set.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn expire<K: ToArg>(&self, key: K, seconds: u64) -> Result<bool, Error> {
        self.query(&cmd("EXPIRE").arg(key).arg(seconds)).await
    }

    /// `PEXPIRE key millis`: true if set.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn pexpire<K: ToArg>(&self, key: K, millis: u64) -> Result<bool, Error> {
        self.query(&cmd("PEXPIRE").arg(key).arg(millis)).await
    }

    /// `TTL key`: -2 missing, -1 no expiry, else seconds.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn ttl<K: ToArg>(&self, key: K) -> Result<i64, Error> {
        self.query(&cmd("TTL").arg(key)).await
    }

    /// `INCRBY key delta`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn incr_by<K: ToArg>(&self, key: K, delta: i64) -> Result<i64, Error> {
        self.query(&cmd("INCRBY").arg(key).arg(delta)).await
    }

    /// `INCRBYFLOAT key delta`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn incr_by_float<K: ToArg>(&self, key: K, delta: f64) -> Result<f64, Error> {
        self.query(&cmd("INCRBYFLOAT").arg(key).arg(delta)).await
    }

    /// `MGET keys...`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn mget<K: ToArg>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        self.query(&cmd("MGET").args_from(keys)).await
    }

    /// `MSET k1 v1 k2 v2 ...`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn mset<K: ToArg, V: ToArg>(&self, pairs: &[(K, V)]) -> Result<(), Error> {
        let mut c = cmd("MSET");
        for (k, v) in pairs {
            c.push_arg(k);
            c.push_arg(v);
        }
        self.query(&c).await
    }

    /// One `SCAN cursor [MATCH pattern] [COUNT n]` page.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn scan(
        &self,
        cursor: u64,
        pattern: Option<&[u8]>,
        count: Option<u32>,
    ) -> Result<ScanPage, Error> {
        let mut c = cmd("SCAN").arg(cursor);
        if let Some(p) = pattern {
            c = c.arg("MATCH").arg(p);
        }
        if let Some(n) = count {
            c = c.arg("COUNT").arg(n);
        }
        self.query(&c).await
    }

    /// Runs a script by SHA1, loading it on `NOSCRIPT`.
    ///
    /// # Errors
    /// As [`Client::query`]; script errors as [`Error::Server`].
    pub async fn eval<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<T, Error> {
        let frame = self.send(&script.evalsha_cmd(keys, args)).await?;
        let frame = match &frame {
            Frame::SimpleError(e) if *e.kind() == ServerErrorKind::NoScript => {
                self.send(&script.eval_cmd(keys, args)).await?
            }
            _ => frame,
        };
        T::from_reply(frame)
    }

    /// `PUBLISH channel message`: number of receivers.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn publish<C: ToArg, M: ToArg>(&self, channel: C, message: M) -> Result<u64, Error> {
        self.query(&cmd("PUBLISH").arg(channel).arg(message)).await
    }

    /// `PING`.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn ping(&self) -> Result<(), Error> {
        self.query::<Frame>(&cmd("PING")).await.map(drop)
    }

    /// `INFO [section]` as text.
    ///
    /// # Errors
    /// As [`Client::query`].
    pub async fn info(&self, section: Option<&str>) -> Result<String, Error> {
        let mut c = cmd("INFO");
        if let Some(s) = section {
            c = c.arg(s);
        }
        self.query(&c).await
    }
}

/// A failed connect as the caller sees it: a rejected password or
/// certificate as is (retrying will not help), anything else as "not sent".
fn connect_error(e: Error) -> Error {
    match e {
        e @ (Error::Auth(_) | Error::Tls(_)) => e,
        e => Error::NotSent { cause: Arc::new(e) },
    }
}

/// Refuses a batch (pipeline or transaction body) with a command that would
/// change the shared connection's state, or block it.
fn check_batch(cmds: &[Cmd]) -> Result<(), Error> {
    for c in cmds {
        check_shared(c)?;
        if c.is_blocking() || is_known_blocking(c) {
            let name = String::from_utf8_lossy(c.name()).to_ascii_uppercase();
            return Err(Error::NotOnSharedConnection {
                command: name.into_boxed_str(),
                use_instead: UseInstead::Exclusive,
            });
        }
    }
    Ok(())
}

/// BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD BLOCK ... sent without
/// [`Cmd::blocking`]. Not WAIT / WAITAOF: they wait for the writes of their
/// own connection, so moving them to another one would change their answer.
/// The first-letter test keeps the table lookup off the path of GET, SET and
/// the like.
fn is_known_blocking(c: &Cmd) -> bool {
    matches!(c.name().first().map(u8::to_ascii_uppercase), Some(b'B' | b'X'))
        && crate::route::command_info(c).is_blocking()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_sha_matches_the_server_algorithm() {
        // SHA1("return 1"), as `SCRIPT LOAD "return 1"` answers.
        assert_eq!(Script::new("return 1").sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn set_options_encode() {
        let o = SetOptions {
            expiry: Some(Expiry::Seconds(5)),
            condition: Some(SetCondition::IfAbsent),
            get: true,
        };
        let c = o.apply(cmd("SET").arg("k").arg("v"));
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"SET"[..], b"k", b"v", b"EX", b"5", b"NX", b"GET"]);
    }

    #[test]
    fn blocking_commands_are_known_by_name() {
        for c in [
            cmd("BLPOP").arg("l").arg(0),
            cmd("brpop").arg("l").arg(1),
            cmd("BLMOVE").arg("a").arg("b").arg("LEFT").arg("RIGHT").arg(0),
            cmd("BZPOPMIN").arg("z").arg(0),
            cmd("XREAD").arg("BLOCK").arg(0).arg("STREAMS").arg("s").arg("$"),
            cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("c")
                .arg("BLOCK")
                .arg(5)
                .arg("STREAMS")
                .arg("s")
                .arg(">"),
        ] {
            assert!(is_known_blocking(&c), "{c:?}");
        }
        for c in [
            cmd("GET").arg("k"),
            cmd("LPOP").arg("l"),
            cmd("XREAD").arg("STREAMS").arg("s").arg("0"),
            cmd("BITCOUNT").arg("k"),
            cmd("WATCH").arg("k"),
            cmd("WAIT").arg(1).arg(0),
        ] {
            assert!(!is_known_blocking(&c), "{c:?}");
        }
    }
}
