//! HyperLogLog commands: `PFADD`, `PFCOUNT`, `PFMERGE`.
//!
//! On a cluster, `PFCOUNT` of several keys and `PFMERGE` need their keys in
//! one slot (use a hash tag), else [`Error::CrossSlot`]. Not here: the
//! string commands that could read the underlying value.

use std::future::Future;

use super::{expect_ok, Execute};
use crate::cmd::{cmd, ToArg};
use crate::error::Error;

/// The HyperLogLog group, for every [`Execute`].
pub trait HyperLogLogCommands: Execute {
    /// `PFADD key element...`: true when the estimate changed.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE` for a value that
    /// is not a HyperLogLog).
    fn pfadd<K: ToArg, E: ToArg>(
        &self,
        key: K,
        elements: &[E],
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("PFADD").arg(key).args_from(elements);
        async move { self.query(&c).await }
    }

    /// `PFCOUNT key...`: the estimated number of distinct elements of the
    /// union of the keys.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::CrossSlot`] on a
    /// cluster when the keys span slots.
    fn pfcount<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("PFCOUNT").args_from(keys);
        async move { self.query(&c).await }
    }

    /// `PFMERGE destination source...`.
    ///
    /// # Errors
    /// As [`HyperLogLogCommands::pfcount`]; [`Error::Type`] unless `+OK`.
    fn pfmerge<D: ToArg, K: ToArg>(
        &self,
        destination: D,
        sources: &[K],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("PFMERGE").arg(destination).args_from(sources);
        async move { expect_ok(self.execute(&c).await?) }
    }
}

impl<T: Execute + ?Sized> HyperLogLogCommands for T {}
