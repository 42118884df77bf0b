//! Key commands: deletion, existence, expiry, type, renaming and copying,
//! `OBJECT`, `DUMP`/`RESTORE`, `SCAN`, `KEYS` and `RANDOMKEY`.
//!
//! Not here: the values behind the keys (strings, hashes ... have their own
//! groups).
//!
//! On a cluster: `DEL`, `UNLINK`, `EXISTS` and `TOUCH` whose keys span slots
//! are split by slot and their counts added up; `RENAME`, `RENAMENX` and
//! `COPY` need both keys in one slot ([`Error::CrossSlot`] otherwise).
//! `KEYS` is sent to every primary and the answers concatenated;
//! `RANDOMKEY` asks one random primary. `SCAN` has no single cursor on a
//! cluster: see [`KeyCommands::scan`].

use std::future::Future;

use bytes::Bytes;

use super::{expect_ok, Execute};
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// When an `EXPIRE` (or `HEXPIRE`) applies, given the current expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCondition {
    /// `NX`: only when there is no expiry yet.
    IfNone,
    /// `XX`: only when there is an expiry.
    IfSome,
    /// `GT`: only when the new expiry is later (no expiry counts as infinite).
    IfLater,
    /// `LT`: only when the new expiry is earlier.
    IfEarlier,
}

impl ExpireCondition {
    /// The option word.
    pub fn as_arg(self) -> &'static str {
        match self {
            ExpireCondition::IfNone => "NX",
            ExpireCondition::IfSome => "XX",
            ExpireCondition::IfLater => "GT",
            ExpireCondition::IfEarlier => "LT",
        }
    }
}

fn expire_cmd<K: ToArg>(name: &str, key: K, when: u64, cond: Option<ExpireCondition>) -> Cmd {
    let c = cmd(name).arg(key).arg(when);
    match cond {
        Some(cond) => c.arg(cond.as_arg()),
        None => c,
    }
}

/// Options of `SCAN` (and `MATCH`/`COUNT` of `HSCAN`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pattern: Option<Bytes>,
    count: Option<u64>,
    kind: Option<Bytes>,
}

impl ScanOptions {
    /// No filter, the server's default count.
    pub fn new() -> ScanOptions {
        ScanOptions::default()
    }

    /// `MATCH pattern` (glob-style).
    pub fn pattern(mut self, pattern: impl AsRef<[u8]>) -> ScanOptions {
        self.pattern = Some(Bytes::copy_from_slice(pattern.as_ref()));
        self
    }

    /// `COUNT n`: a hint of how much work one call does.
    pub fn count(mut self, n: u64) -> ScanOptions {
        self.count = Some(n);
        self
    }

    /// `TYPE t` (`string`, `hash` ...; `SCAN` only).
    pub fn kind(mut self, kind: impl AsRef<[u8]>) -> ScanOptions {
        self.kind = Some(Bytes::copy_from_slice(kind.as_ref()));
        self
    }

    /// Appends `MATCH`/`COUNT`/`TYPE` to `c`.
    pub fn apply(&self, mut c: Cmd) -> Cmd {
        if let Some(p) = &self.pattern {
            c = c.arg("MATCH").arg(p);
        }
        if let Some(n) = self.count {
            c = c.arg("COUNT").arg(n);
        }
        if let Some(t) = &self.kind {
            c = c.arg("TYPE").arg(t);
        }
        c
    }
}

/// Parses a scan cursor (sent as text).
pub(crate) fn parse_cursor(cursor: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(cursor)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::Type { expected: "a SCAN cursor", got: "non-numeric text".into() })
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
        // A cluster answers SCAN with one page per primary: say so, rather
        // than "expected a string".
        if let Frame::Array(items) = frame.value() {
            if items.first().is_some_and(|f| matches!(f.value(), Frame::Array(_))) {
                return Err(Error::Type {
                    expected: "one SCAN page (a cluster scans per primary: use ClusterClient::primaries)",
                    got: format!("{} pages, one per primary", items.len()),
                });
            }
        }
        let (cursor, keys): (Bytes, Vec<Bytes>) = FromReply::from_reply(frame)?;
        Ok(ScanPage { cursor: parse_cursor(&cursor)?, keys })
    }
}

/// The key group (`DEL`, `EXPIRE`, `SCAN` ...), for every [`Execute`].
pub trait KeyCommands: Execute {
    /// `DEL keys...`: how many were removed. Split by slot on a cluster.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn del<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("DEL").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `UNLINK keys...`: like `DEL`, the memory reclaimed in the background.
    ///
    /// # Errors
    /// As [`KeyCommands::del`].
    fn unlink<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("UNLINK").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `EXISTS keys...`: how many exist (a key named twice counts twice).
    ///
    /// # Errors
    /// As [`KeyCommands::del`].
    fn exists<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("EXISTS").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `EXPIRE key seconds`: true when set (false: no such key).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn expire<K: ToArg>(&self, key: K, seconds: u64) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("EXPIRE", key, seconds, None);
        async move { self.query(&c).await }
    }

    /// `EXPIRE key seconds NX|XX|GT|LT`: true when set, false when the key
    /// is missing or the condition not met.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn expire_if<K: ToArg>(
        &self,
        key: K,
        seconds: u64,
        cond: ExpireCondition,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("EXPIRE", key, seconds, Some(cond));
        async move { self.query(&c).await }
    }

    /// `PEXPIRE key millis`: true when set (false: no such key).
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn pexpire<K: ToArg>(&self, key: K, millis: u64) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("PEXPIRE", key, millis, None);
        async move { self.query(&c).await }
    }

    /// `PEXPIRE key millis NX|XX|GT|LT`: true when set, false when the key is
    /// missing or the condition not met.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn pexpire_if<K: ToArg>(
        &self,
        key: K,
        millis: u64,
        cond: ExpireCondition,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("PEXPIRE", key, millis, Some(cond));
        async move { self.query(&c).await }
    }

    /// `EXPIREAT key unix-seconds`: true when set (false: no such key). A time in the past deletes the key.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn expire_at<K: ToArg>(
        &self,
        key: K,
        unix_seconds: u64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("EXPIREAT", key, unix_seconds, None);
        async move { self.query(&c).await }
    }

    /// `EXPIREAT key unix-seconds NX|XX|GT|LT`: true when set, false when the key is
    /// missing or the condition not met.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn expire_at_if<K: ToArg>(
        &self,
        key: K,
        unix_seconds: u64,
        cond: ExpireCondition,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("EXPIREAT", key, unix_seconds, Some(cond));
        async move { self.query(&c).await }
    }

    /// `PEXPIREAT key unix-millis`: true when set (false: no such key). A time in the past deletes the key.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn pexpire_at<K: ToArg>(
        &self,
        key: K,
        unix_millis: u64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("PEXPIREAT", key, unix_millis, None);
        async move { self.query(&c).await }
    }

    /// `PEXPIREAT key unix-millis NX|XX|GT|LT`: true when set, false when the key is
    /// missing or the condition not met.
    ///
    /// # Errors
    /// As [`KeyCommands::expire`].
    fn pexpire_at_if<K: ToArg>(
        &self,
        key: K,
        unix_millis: u64,
        cond: ExpireCondition,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = expire_cmd("PEXPIREAT", key, unix_millis, Some(cond));
        async move { self.query(&c).await }
    }

    /// `TTL key`: seconds left; -1 when the key has no expiry, -2 when it
    /// does not exist.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn ttl<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("TTL").arg(key);
        async move { self.query(&c).await }
    }

    /// `PTTL key`: milliseconds left; -1 no expiry, -2 no key.
    ///
    /// # Errors
    /// As [`KeyCommands::ttl`].
    fn pttl<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("PTTL").arg(key);
        async move { self.query(&c).await }
    }

    /// `EXPIRETIME key`: the expiry as Unix seconds; -1 no expiry, -2 no key.
    ///
    /// # Errors
    /// As [`KeyCommands::ttl`].
    fn expire_time<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("EXPIRETIME").arg(key);
        async move { self.query(&c).await }
    }

    /// `PEXPIRETIME key`: the expiry as Unix milliseconds; -1, -2 as above.
    ///
    /// # Errors
    /// As [`KeyCommands::ttl`].
    fn pexpire_time<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("PEXPIRETIME").arg(key);
        async move { self.query(&c).await }
    }

    /// `PERSIST key`: true when an expiry was removed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn persist<K: ToArg>(&self, key: K) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("PERSIST").arg(key);
        async move { self.query(&c).await }
    }

    /// `TYPE key`: `string`, `list`, `set`, `zset`, `hash`, `stream`, or
    /// `none` for a missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn key_type<K: ToArg>(&self, key: K) -> impl Future<Output = Result<String, Error>> + Send {
        let c = cmd("TYPE").arg(key);
        async move { self.query(&c).await }
    }

    /// `RENAME key newkey` (overwrites `newkey`).
    ///
    /// # Errors
    /// [`Error::Server`] when `key` does not exist; [`Error::CrossSlot`] on a
    /// cluster when the keys are in different slots; connection failures.
    fn rename<K: ToArg, N: ToArg>(
        &self,
        key: K,
        new_key: N,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("RENAME").arg(key).arg(new_key);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `RENAMENX key newkey`: true when renamed, false when `newkey` exists.
    ///
    /// # Errors
    /// As [`KeyCommands::rename`].
    fn renamenx<K: ToArg, N: ToArg>(
        &self,
        key: K,
        new_key: N,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("RENAMENX").arg(key).arg(new_key);
        async move { self.query(&c).await }
    }

    /// `COPY source destination [REPLACE]`: true when copied (false: no
    /// source, or the destination exists and `replace` is false).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::CrossSlot`] on a
    /// cluster when the keys are in different slots.
    fn copy<S: ToArg, D: ToArg>(
        &self,
        source: S,
        destination: D,
        replace: bool,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let mut c = cmd("COPY").arg(source).arg(destination);
        if replace {
            c = c.arg("REPLACE");
        }
        async move { self.query(&c).await }
    }

    /// `OBJECT ENCODING key`: the internal encoding (`embstr`, `listpack`
    /// ...), `None` for a missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn object_encoding<K: ToArg>(
        &self,
        key: K,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        let c = cmd("OBJECT").arg("ENCODING").arg(key);
        async move { self.query(&c).await }
    }

    /// `OBJECT FREQ key`: the LFU access counter, `None` for a missing key.
    ///
    /// # Errors
    /// [`Error::Server`] unless `maxmemory-policy` is an LFU policy;
    /// connection failures.
    fn object_freq<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<u64>, Error>> + Send {
        let c = cmd("OBJECT").arg("FREQ").arg(key);
        async move { self.query(&c).await }
    }

    /// `OBJECT IDLETIME key`: seconds since the last access, `None` for a
    /// missing key.
    ///
    /// # Errors
    /// [`Error::Server`] when `maxmemory-policy` is an LFU policy;
    /// connection failures.
    fn object_idle_time<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<u64>, Error>> + Send {
        let c = cmd("OBJECT").arg("IDLETIME").arg(key);
        async move { self.query(&c).await }
    }

    /// `OBJECT REFCOUNT key`: the value's reference count, `None` for a
    /// missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn object_refcount<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<u64>, Error>> + Send {
        let c = cmd("OBJECT").arg("REFCOUNT").arg(key);
        async move { self.query(&c).await }
    }

    /// `TOUCH keys...`: how many exist (their access time is updated).
    ///
    /// # Errors
    /// As [`KeyCommands::del`].
    fn touch<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("TOUCH").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `DUMP key`: the value serialized for [`KeyCommands::restore`],
    /// `None` for a missing key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn dump<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("DUMP").arg(key);
        async move { self.query(&c).await }
    }

    /// `RESTORE key ttl serialized [REPLACE]`: `ttl_millis` 0 means no
    /// expiry.
    ///
    /// # Errors
    /// [`Error::Server`] (`BUSYKEY` when the key exists and `replace` is
    /// false; a bad payload); connection failures.
    fn restore<K: ToArg, V: ToArg>(
        &self,
        key: K,
        ttl_millis: u64,
        serialized: V,
        replace: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let mut c = cmd("RESTORE").arg(key).arg(ttl_millis).arg(serialized);
        if replace {
            c = c.arg("REPLACE");
        }
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// One `SCAN cursor [MATCH p] [COUNT n] [TYPE t]` page; start with
    /// cursor 0 and call again with [`ScanPage::cursor`] until it is 0.
    ///
    /// On a cluster there is no single cursor: each primary has its own
    /// keyspace and cursor. The router sends `SCAN` to every primary and
    /// answers one page per primary, which this method reports as
    /// [`Error::Type`] (naming the reason) instead of guessing. To scan a
    /// cluster, scan each primary: `ClusterClient::primaries()` gives a
    /// connection per primary, whose `query::<ScanPage>` drives its cursor.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] on a cluster,
    /// as above.
    fn scan(&self, cursor: u64, opts: &ScanOptions) -> impl Future<Output = Result<ScanPage, Error>> + Send {
        let c = opts.apply(cmd("SCAN").arg(cursor));
        async move { self.query(&c).await }
    }

    /// `KEYS pattern`: every matching key, in one reply.
    ///
    /// Dangerous on a large keyspace: the server walks every key while
    /// every other client waits. Prefer [`KeyCommands::scan`]. On a cluster
    /// it runs on every primary and the answers are concatenated.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn keys<P: ToArg>(&self, pattern: P) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("KEYS").arg(pattern);
        async move { self.query(&c).await }
    }

    /// `RANDOMKEY`: a random key, `None` when the database is empty. On a
    /// cluster it asks one random primary, so `None` means that primary
    /// holds no key.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn random_key(&self) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("RANDOMKEY");
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> KeyCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn scan_options_encode() {
        let c = ScanOptions::new().pattern("a*").count(10).kind("hash").apply(cmd("SCAN").arg(0));
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"SCAN"[..], b"0", b"MATCH", b"a*", b"COUNT", b"10", b"TYPE", b"hash"]);
        let c = expire_cmd("EXPIRE", "k", 5, Some(ExpireCondition::IfLater));
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"EXPIRE"[..], b"k", b"5", b"GT"]);
    }

    #[test]
    fn scan_page_from_one_node_and_from_a_cluster() {
        let page = Frame::Array(vec![bulk("17"), Frame::Array(vec![bulk("a")])]);
        assert_eq!(
            ScanPage::from_reply(page.clone()).unwrap(),
            ScanPage { cursor: 17, keys: vec![Bytes::from_static(b"a")] }
        );
        match ScanPage::from_reply(Frame::Array(vec![page.clone(), page])) {
            Err(Error::Type { expected, .. }) => assert!(expected.contains("cluster")),
            other => panic!("{other:?}"),
        }
        assert!(ScanPage::from_reply(Frame::Array(vec![bulk("x"), Frame::Array(vec![])])).is_err());
    }
}
