//! Pub/sub publishing and introspection: `PUBLISH`, `SPUBLISH` and
//! `PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS`.
//!
//! Not here: subscribing, which needs a connection of its own (the
//! `pubsub` module's `Subscriber`).
//!
//! On a cluster: `PUBLISH` goes to one random primary, which forwards the
//! message over the cluster bus, so its count is the receivers connected to
//! that node only; `SPUBLISH` goes to the channel's slot and counts that
//! shard's receivers. `PUBSUB ...` asks one random primary, which knows only
//! the subscriptions made on it.

use std::future::Future;

use bytes::Bytes;

use super::hashes::pairs;
use super::Execute;
use crate::cmd::{cmd, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// The publishing group, for every [`Execute`].
pub trait PubSubCommands: Execute {
    /// `PUBLISH channel message`: how many subscribers received it (on a
    /// cluster: on the node it was sent to).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn publish<C: ToArg, M: ToArg>(
        &self,
        channel: C,
        message: M,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("PUBLISH").arg(channel).arg(message);
        async move { self.query(&c).await }
    }

    /// `SPUBLISH shardchannel message`: how many shard subscribers received it.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn spublish<C: ToArg, M: ToArg>(
        &self,
        channel: C,
        message: M,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("SPUBLISH").arg(channel).arg(message);
        async move { self.query(&c).await }
    }

    /// `PUBSUB CHANNELS [pattern]`: the channels with at least one
    /// subscriber (pattern subscriptions not counted).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn pubsub_channels(
        &self,
        pattern: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let mut c = cmd("PUBSUB").arg("CHANNELS");
        if let Some(p) = pattern {
            c = c.arg(p);
        }
        async move { self.query(&c).await }
    }

    /// `PUBSUB NUMSUB channel...`: each channel with its number of
    /// subscribers, in order.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] for a reply
    /// of another shape.
    fn pubsub_numsub<C: ToArg>(
        &self,
        channels: &[C],
    ) -> impl Future<Output = Result<Vec<(Bytes, u64)>, Error>> + Send {
        let c = cmd("PUBSUB").arg("NUMSUB").args_from(channels);
        async move { pairs(self.query::<Frame>(&c).await?) }
    }

    /// `PUBSUB NUMPAT`: the number of pattern subscriptions.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn pubsub_numpat(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("PUBSUB").arg("NUMPAT");
        async move { self.query(&c).await }
    }

    /// `PUBSUB SHARDCHANNELS [pattern]`: the shard channels with a
    /// subscriber (on a cluster: on the node asked).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn pubsub_shardchannels(
        &self,
        pattern: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send {
        let mut c = cmd("PUBSUB").arg("SHARDCHANNELS");
        if let Some(p) = pattern {
            c = c.arg(p);
        }
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> PubSubCommands for T {}
