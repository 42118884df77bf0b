//! Set commands: membership, cardinality, random members, moves, and the
//! set algebra (`SINTER`, `SUNION`, `SDIFF`, their `STORE` forms, `SINTERCARD`).
//!
//! Members come back as `Bytes`; whole sets as `HashSet<Bytes>`. On a
//! cluster the multi-key commands need their keys in one slot (hash tags,
//! `{user1}:a`), or the server answers `CROSSSLOT`. Not here: sorted sets.

use std::collections::HashSet;
use std::future::Future;

use bytes::Bytes;

use super::member_scan::{MemberScanOptions, ScanReply};
use super::Execute;
use crate::cmd::{cmd, ToArg};
use crate::error::Error;

/// The set group (`SADD`, `SMEMBERS`, `SINTER` ...), for every [`Execute`].
pub trait SetCommands: Execute {
    /// `SADD key member...`: the number of members added (not already there).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, no member given).
    fn sadd<K: ToArg, I>(&self, key: K, members: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("SADD").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `SREM key member...`: the number of members removed.
    ///
    /// # Errors
    /// As [`SetCommands::sadd`].
    fn srem<K: ToArg, I>(&self, key: K, members: I) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("SREM").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `SMEMBERS key`: every member (empty when missing).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn smembers<K: ToArg>(&self, key: K) -> impl Future<Output = Result<HashSet<Bytes>, Error>> + Send {
        let c = cmd("SMEMBERS").arg(key);
        async move { Ok(self.query::<Vec<Bytes>>(&c).await?.into_iter().collect()) }
    }

    /// `SISMEMBER key member`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn sismember<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("SISMEMBER").arg(key).arg(member);
        async move { self.query(&c).await }
    }

    /// `SMISMEMBER key member...`: membership of each, in order.
    ///
    /// # Errors
    /// As [`SetCommands::sismember`].
    fn smismember<K: ToArg, I>(
        &self,
        key: K,
        members: I,
    ) -> impl Future<Output = Result<Vec<bool>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("SMISMEMBER").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `SCARD key`: the number of members (0 when missing).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn scard<K: ToArg>(&self, key: K) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("SCARD").arg(key);
        async move { self.query(&c).await }
    }

    /// `SPOP key`: removes and returns a random member, `None` when empty.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn spop<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("SPOP").arg(key);
        async move { self.query(&c).await }
    }

    /// `SPOP key count`: removes and returns up to `count` random members.
    ///
    /// # Errors
    /// As [`SetCommands::spop`].
    fn spop_count<K: ToArg>(
        &self,
        key: K,
        count: usize,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("SPOP").arg(key).arg(count);
        async move { self.query(&c).await }
    }

    /// `SRANDMEMBER key`: a random member, `None` when empty.
    ///
    /// # Errors
    /// As [`SetCommands::spop`].
    fn srandmember<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("SRANDMEMBER").arg(key);
        async move { self.query(&c).await }
    }

    /// `SRANDMEMBER key count`: up to `count` distinct members; a negative
    /// `count` returns `-count` members, repeats allowed.
    ///
    /// # Errors
    /// As [`SetCommands::spop`].
    fn srandmember_count<K: ToArg>(
        &self,
        key: K,
        count: i64,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let c = cmd("SRANDMEMBER").arg(key).arg(count);
        async move { self.query(&c).await }
    }

    /// `SMOVE source destination member`: true when the member was moved.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, `CROSSSLOT`).
    fn smove<S: ToArg, D: ToArg, M: ToArg>(
        &self,
        source: S,
        destination: D,
        member: M,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("SMOVE").arg(source).arg(destination).arg(member);
        async move { self.query(&c).await }
    }

    /// `SINTER key...`: the members in every set.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, `CROSSSLOT`).
    fn sinter<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<HashSet<Bytes>, Error>> + Send {
        let c = cmd("SINTER").args_from(keys);
        async move { Ok(self.query::<Vec<Bytes>>(&c).await?.into_iter().collect()) }
    }

    /// `SUNION key...`: the members of any set.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sunion<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<HashSet<Bytes>, Error>> + Send {
        let c = cmd("SUNION").args_from(keys);
        async move { Ok(self.query::<Vec<Bytes>>(&c).await?.into_iter().collect()) }
    }

    /// `SDIFF key...`: the members of the first set in none of the others.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sdiff<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<HashSet<Bytes>, Error>> + Send {
        let c = cmd("SDIFF").args_from(keys);
        async move { Ok(self.query::<Vec<Bytes>>(&c).await?.into_iter().collect()) }
    }

    /// `SINTERSTORE destination key...`: stores the intersection; its size.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sinterstore<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("SINTERSTORE").arg(destination).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `SUNIONSTORE destination key...`: stores the union; its size.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sunionstore<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("SUNIONSTORE").arg(destination).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `SDIFFSTORE destination key...`: stores the difference; its size.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sdiffstore<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let c = cmd("SDIFFSTORE").arg(destination).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `SINTERCARD numkeys key... [LIMIT limit]`: the size of the
    /// intersection, counting stopped at `limit` when given.
    ///
    /// # Errors
    /// As [`SetCommands::sinter`].
    fn sintercard<K: ToArg>(
        &self,
        keys: &[K],
        limit: Option<usize>,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let mut c = cmd("SINTERCARD").arg(keys.len()).args_from(keys);
        if let Some(limit) = limit {
            c = c.arg("LIMIT").arg(limit);
        }
        async move { self.query(&c).await }
    }

    /// `SSCAN key cursor [MATCH p] [COUNT n]`: one page of members; start
    /// with cursor 0 and continue until [`ScanReply::is_done`]. A member may
    /// show up more than once over a scan.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, bad cursor);
    /// [`Error::Type`] for a malformed page.
    fn sscan<K: ToArg>(
        &self,
        key: K,
        cursor: u64,
        options: &MemberScanOptions,
    ) -> impl Future<Output = Result<ScanReply<Bytes>, Error>> + Send {
        let c = options.apply(cmd("SSCAN").arg(key).arg(cursor));
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> SetCommands for T {}
