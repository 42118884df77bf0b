//! The slot of a command's keys.
//!
//! Lives here: [`slot_of`] (the one slot all keys of a command hash to, or a
//! cross-slot error). Not here: the command table itself (where the keys are,
//! read-only or not, fan-out, split kind, retry safety), which lives one layer
//! down in [`crate::cmd::table`] so the connection layer can read it too; its
//! items are re-exported here for code written against `route::keys`.
//!
//! Pure: no async runtime, no sockets, no clock.

pub use crate::cmd::table::{check_shared, command_info, refuse_stateful, CommandInfo};

#[cfg(test)]
use crate::cmd::{table::keys, Cmd};
use crate::error::Error;

use super::slot::key_slot;

/// The one slot all keys of `cmd` hash to, or `None` for a command without keys.
///
/// # Errors
/// [`Error::CrossSlot`] when two keys hash to different slots: a command that
/// must run on one node cannot be sent as is (see `split` for the commands
/// that can be split instead).
#[cfg(test)]
pub fn slot_of(cmd: &Cmd) -> Result<Option<u16>, Error> {
    slot_of_keys(keys(cmd))
}

/// As [`slot_of`], for keys already found.
pub(crate) fn slot_of_keys<'a>(keys: impl Iterator<Item = &'a [u8]>) -> Result<Option<u16>, Error> {
    let mut slot = None;
    for key in keys {
        let s = key_slot(key);
        match slot {
            None => slot = Some(s),
            Some(prev) if prev != s => return Err(Error::CrossSlot),
            Some(_) => {}
        }
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    fn c(args: &[&str]) -> Cmd {
        let (name, rest) = args.split_first().unwrap();
        cmd(name).args_from(rest.iter().copied())
    }

    #[test]
    fn slot_of_checks_every_key() {
        assert_eq!(slot_of(&c(&["GET", "foo"])).unwrap(), Some(12182));
        assert_eq!(slot_of(&c(&["MGET", "{u}a", "{u}b", "u"])).unwrap(), Some(key_slot(b"u")));
        assert!(matches!(slot_of(&c(&["MGET", "foo", "bar"])), Err(Error::CrossSlot)));
        assert!(matches!(slot_of(&c(&["RENAME", "foo", "bar"])), Err(Error::CrossSlot)));
        assert!(matches!(slot_of(&c(&["EVAL", "s", "2", "foo", "bar"])), Err(Error::CrossSlot)));
        assert_eq!(slot_of(&c(&["EVAL", "s", "1", "foo", "bar"])).unwrap(), Some(12182));
        assert_eq!(slot_of(&c(&["PING"])).unwrap(), None);
    }

    #[test]
    fn keyless_commands_have_no_slot() {
        for name in ["PING", "INFO", "SUBSCRIBE", "CLUSTER", "CLIENT", "MULTI", "PUBLISH", "WAIT"] {
            assert_eq!(slot_of(&c(&[name, "x", "y"])).unwrap(), None, "{name}");
        }
        assert_eq!(slot_of(&c(&["SSUBSCRIBE", "{a}1", "{a}2"])).unwrap(), Some(key_slot(b"a")));
        assert_eq!(slot_of(&c(&["SPUBLISH", "ch", "msg"])).unwrap(), Some(key_slot(b"ch")));
    }
}
