//! Routing: which node a command goes to, and what to do when the server redirects.
//!
//! The pure part of the cluster router lives in these modules, each a noun or
//! a verb of the routing loop:
//!
//! - [`slot`]: the hash slot of a key (CRC16 with hash tags);
//! - [`keys`](mod@keys): the slot of a command's keys (the command table
//!   itself, where keys are, read-only or not, fan-out, split kind, lives in
//!   [`crate::cmd::table`] and is re-exported here);
//! - [`split`]: multi-key commands whose keys span slots, split per slot, and
//!   the merging of their replies (and of fan-out replies);
//! - [`topology`]: the slot map, patched by redirects, chosen by consensus
//!   among nodes; its `parse` the pure parsers of `CLUSTER SHARDS` /
//!   `CLUSTER SLOTS`;
//! - [`redirect`]: the retry policy, one function from an error to an action;
//! - [`nodes`]: the bounded set of nodes the router may connect to (the
//!   topology's and recent redirect targets').
//!
//! None of them touches a socket, a clock or a random generator: time and
//! randomness are parameters. On top of them, with IO: [`fetch`] asks a node
//! for the topology (shared by the router and the pub/sub subscriber), and
//! the router (`cluster`) is a loop:
//!
//! 1. [`plan`] the command: a slot, any primary, every primary, or parts;
//! 2. look the slot up in the [`SlotMap`] and send;
//! 3. on an error, [`classify`] it: follow `MOVED`/`ASK`, back off, refresh
//!    the map, or return;
//! 4. for fan-outs and splits, merge the replies ([`merge_fan_out`], [`merge`]).

pub mod cluster;
pub mod fetch;
pub mod keys;
pub mod nodes;
pub mod redirect;
pub mod slot;
pub mod split;
pub mod topology;

pub use cluster::{ClusterClient, ClusterOptions};
pub(crate) use keys::{check_shared, command_info, refuse_stateful, CommandInfo};
pub use redirect::RetryPolicy;
pub(crate) use redirect::{classify, is_retry_safe, RetryAction};
pub use slot::{key_slot, SLOTS};
pub(crate) use split::{merge, merge_fan_out, FanOut, Part, Split, SplitKind};
pub use topology::{Health, Lag, Node, Shard, SlotMap};

use crate::cmd::Cmd;
use crate::error::Error;

/// Where one command goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The shard serving this slot: its primary, or one of its replicas when
    /// the command is read-only and the caller reads from replicas.
    Slot(u16),
    /// The command has no keys: any primary will do.
    AnyPrimary,
    /// Every primary serving slots; merge the replies with `merge_fan_out`.
    AllPrimaries(FanOut),
    /// One command per slot; merge the replies with `merge`.
    Split {
        /// How to merge.
        kind: SplitKind,
        /// The parts, each with its slot and command.
        parts: Vec<Part>,
    },
}

/// A command's routing decision, with what is known about the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Flags and key positions (read-only, blocking, pub/sub ...).
    pub info: CommandInfo,
    /// Where to send it.
    pub target: Target,
}

/// Decides where `cmd` goes.
///
/// # Errors
/// [`Error::CrossSlot`] when the keys of a command that cannot be split span
/// slots; [`Error::NotOnSharedConnection`] for a command that would change
/// the state of the shared connection it is sent on (see
/// `Flags::STATEFUL`). Nothing was sent.
pub fn plan(cmd: &Cmd) -> Result<Plan, Error> {
    let info = command_info(cmd);
    refuse_stateful(cmd, &info)?;
    if let Some(policy) = info.fan_out {
        return Ok(Plan { info, target: Target::AllPrimaries(policy) });
    }
    if info.keys == crate::cmd::KeySpec::None && cmd.is("PUBLISH") {
        // Any node accepts PUBLISH and the cluster bus forwards it to every
        // subscriber, but two nodes may forward in either order: one node per
        // channel (the primary of its slot) keeps one publisher's messages in order.
        if let Some(channel) = cmd.arg_at(1) {
            return Ok(Plan { info, target: Target::Slot(key_slot(channel)) });
        }
    }
    let target = match split::split_with_info(cmd, &info)? {
        Split::Keyless => Target::AnyPrimary,
        Split::Single(slot) => Target::Slot(slot),
        Split::Multi { kind, parts } => Target::Split { kind, parts },
    };
    Ok(Plan { info, target })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    #[test]
    fn plans_each_kind_of_command() {
        let get = plan(&cmd("GET").arg("foo")).unwrap();
        assert_eq!(get.target, Target::Slot(12182));
        assert!(get.info.is_read_only());
        assert_eq!(plan(&cmd("PING")).unwrap().target, Target::AnyPrimary);
        let publish = plan(&cmd("PUBLISH").arg("news").arg("m")).unwrap();
        assert_eq!(publish.target, Target::Slot(key_slot(b"news")), "one node per channel keeps order");
        assert_eq!(plan(&cmd("DBSIZE")).unwrap().target, Target::AllPrimaries(FanOut::Sum));
        let mget = plan(&cmd("MGET").arg("foo").arg("bar")).unwrap();
        match mget.target {
            Target::Split { kind: SplitKind::Mget, parts } => {
                assert_eq!(parts.iter().map(|p| p.slot).collect::<Vec<_>>(), [5061, 12182]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(plan(&cmd("SUNIONSTORE").arg("foo").arg("bar")), Err(Error::CrossSlot)));
    }

    #[test]
    fn stateful_commands_have_no_plan() {
        for c in [cmd("SSUBSCRIBE").arg("ch"), cmd("MULTI"), cmd("WATCH").arg("k"), cmd("READONLY")] {
            assert!(matches!(plan(&c), Err(Error::NotOnSharedConnection { .. })), "{c:?}");
        }
        assert!(plan(&cmd("BLPOP").arg("l").arg(0)).is_ok(), "blocking commands are routed, not refused");
    }
}
