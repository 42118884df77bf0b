//! String commands: `GET`, `SET` and the rest of the string group.
//!
//! Each method builds its command before the future starts (so arguments
//! need not be `Send`), sends it through [`Execute`] and checks the reply the
//! command promises. Not here: keys, counters on hashes, scripts.

use std::future::Future;

use bytes::Bytes;

use super::{expect_ok, Execute};
use crate::cmd::{cmd, ToArg};
use crate::error::Error;

/// The string group (`GET`, `SET`, `INCR` ...), for every [`Execute`].
pub trait StringCommands: Execute {
    /// `GET key`: the value, `None` when the key does not exist.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (e.g. `WRONGTYPE`).
    fn get<K: ToArg>(&self, key: K) -> impl Future<Output = Result<Option<Bytes>, Error>> + Send {
        let c = cmd("GET").arg(key);
        async move { self.query(&c).await }
    }

    /// `SET key value`; the reply must be `+OK`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] for a reply other than `+OK`.
    fn set<K: ToArg, V: ToArg>(&self, key: K, value: V) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("SET").arg(key).arg(value);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `INCR key`: the new value.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] when the value is not an integer.
    fn incr<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64, Error>> + Send {
        let c = cmd("INCR").arg(key);
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> StringCommands for T {}
