//! Commands that go to several nodes, and how their replies are merged.
//!
//! Lives here: [`split_by_slot`] (MGET, MSET, DEL, UNLINK, EXISTS and TOUCH
//! whose keys span slots become one command per slot), [`merge`] (the caller's
//! reply rebuilt from the parts' replies), [`FanOut`] (keyless commands that
//! must reach every primary) and [`merge_fan_out`]. Not here: sending, or
//! retrying one part (each part is an ordinary command to the IO router).
//!
//! A split command is not atomic: an MSET split in two parts can apply one
//! part and fail the other. That is what the caller asked for by writing keys
//! of several slots in one call; commands whose meaning depends on atomicity
//! (MSETNX, RENAME, EVAL, SINTER ...) are refused with [`Error::CrossSlot`]
//! instead.
//!
//! Pure: no async runtime, no sockets, no clock.

use bytes::Bytes;

use crate::cmd::Cmd;
use crate::error::Error;
use crate::resp::Frame;

pub(crate) use crate::cmd::{FanOut, SplitKind};

#[cfg(test)]
use crate::cmd::command_info;
use crate::cmd::CommandInfo;

use super::keys::slot_of_keys;
use super::slot::key_slot;

fn ok() -> Frame {
    Frame::SimpleString(Bytes::from_static(b"OK"))
}

/// Error replies become [`Error::Server`]; attributes are dropped.
fn reply(frame: Frame) -> Result<Frame, Error> {
    frame.into_result().map(Frame::strip_attributes)
}

fn shape(expected: &'static str, got: &Frame) -> Error {
    Error::Type { expected, got: got.type_name().to_string() }
}

fn is_ok(frame: &Frame) -> bool {
    matches!(frame, Frame::SimpleString(s) if s.eq_ignore_ascii_case(b"OK"))
}

fn integer(frame: &Frame) -> Result<i64, Error> {
    match frame {
        Frame::Integer(n) => Ok(*n),
        other => Err(shape("integer", other)),
    }
}

fn elements(frame: Frame) -> Result<Vec<Frame>, Error> {
    match frame {
        Frame::Array(items) | Frame::Set(items) => Ok(items),
        other => Err(shape("array", &other)),
    }
}

fn sum(replies: Vec<Frame>) -> Result<Frame, Error> {
    let mut total: i64 = 0;
    for r in replies {
        total = total
            .checked_add(integer(&reply(r)?)?)
            .ok_or_else(|| Error::UnexpectedReply { what: "the sum of the integer replies overflows" })?;
    }
    Ok(Frame::Integer(total))
}

fn all_ok(replies: Vec<Frame>) -> Result<Frame, Error> {
    for r in replies {
        let r = reply(r)?;
        if !is_ok(&r) {
            return Err(shape("OK", &r));
        }
    }
    Ok(ok())
}

/// Merges the replies of a keyless command sent to every primary.
///
/// # Errors
/// The first error reply, as [`Error::Server`]; [`Error::Type`] for a reply
/// of the wrong shape; [`Error::UnexpectedReply`] when there is no reply at all, when
/// [`FanOut::AllSame`] replies differ, when [`FanOut::And`] arrays differ in
/// length, or when a [`FanOut::Sum`] overflows.
pub fn merge_fan_out(policy: FanOut, replies: Vec<Frame>) -> Result<Frame, Error> {
    if replies.is_empty() {
        return Err(Error::UnexpectedReply { what: "no reply to merge" });
    }
    match policy {
        FanOut::AllOk => all_ok(replies),
        FanOut::Sum => sum(replies),
        FanOut::AllSame => {
            let mut first: Option<Frame> = None;
            for r in replies {
                let r = reply(r)?;
                match &first {
                    None => first = Some(r),
                    Some(f) if *f == r => {}
                    Some(_) => {
                        return Err(Error::UnexpectedReply { what: "nodes replied with different values" })
                    }
                }
            }
            first.ok_or_else(|| Error::UnexpectedReply { what: "no reply to merge" })
        }
        FanOut::Concat => {
            let mut all = Vec::new();
            for r in replies {
                all.extend(elements(reply(r)?)?);
            }
            Ok(Frame::Array(all))
        }
        FanOut::PerNodeCursor => {
            let replies = replies.into_iter().map(reply).collect::<Result<Vec<_>, _>>()?;
            Ok(Frame::Array(replies))
        }
        FanOut::And => {
            let mut acc: Option<Vec<bool>> = None;
            for r in replies {
                let flags = elements(reply(r)?)?
                    .iter()
                    .map(|f| match f {
                        Frame::Integer(n) => Ok(*n != 0),
                        Frame::Boolean(b) => Ok(*b),
                        other => Err(shape("integer", other)),
                    })
                    .collect::<Result<Vec<bool>, Error>>()?;
                match &mut acc {
                    None => acc = Some(flags),
                    Some(a) if a.len() == flags.len() => {
                        a.iter_mut().zip(flags).for_each(|(x, y)| *x &= y);
                    }
                    Some(_) => {
                        return Err(Error::UnexpectedReply {
                            what: "nodes replied with arrays of different lengths",
                        })
                    }
                }
            }
            let merged = acc.unwrap_or_default();
            Ok(Frame::Array(merged.into_iter().map(|b| Frame::Integer(i64::from(b))).collect()))
        }
    }
}

/// One slot's share of a split command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The slot all keys of this part hash to.
    pub slot: u16,
    /// The command with only this slot's keys (and, for MSET, their values),
    /// in the caller's order.
    pub cmd: Cmd,
    /// For each key of this part, its position among the caller's keys
    /// (0 is the first key), ascending.
    pub positions: Vec<usize>,
}

/// Where a command goes, as far as its keys decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// The command has no keys: any node can serve it (or, see
    /// [`CommandInfo::fan_out`], every primary must).
    Keyless,
    /// Every key is in this slot: send the command as is.
    Single(u16),
    /// Keys span slots: send each part to its slot, then [`merge`] the replies.
    Multi {
        /// How to merge the parts' replies.
        kind: SplitKind,
        /// One part per slot, ordered by slot.
        parts: Vec<Part>,
    },
}

/// Decides how `cmd` is sent, splitting MGET, MSET, DEL, UNLINK, EXISTS and
/// TOUCH by slot when their keys span slots.
///
/// # Errors
/// [`Error::CrossSlot`] for any other command whose keys span slots.
#[cfg(test)]
pub fn split_by_slot(cmd: &Cmd) -> Result<Split, Error> {
    split_with_info(cmd, &command_info(cmd))
}

/// As [`split_by_slot`], with the command already classified.
///
/// # Errors
/// As [`split_by_slot`].
pub fn split_with_info(cmd: &Cmd, info: &CommandInfo) -> Result<Split, Error> {
    let Some(kind) = info.split else {
        if let crate::cmd::KeySpec::At(i) = info.keys {
            // One key at a known place (GET, SET, HGET ...): the usual case,
            // without walking the arguments through the generic key iterator.
            return Ok(cmd.arg_at(i).map_or(Split::Keyless, |key| Split::Single(key_slot(key))));
        }
        return Ok(match slot_of_keys(info.keys.keys_in(cmd))? {
            Some(slot) => Split::Single(slot),
            None => Split::Keyless,
        });
    };
    // MSET must come as key/value pairs; a malformed one is sent whole to the
    // first key's slot so the server can name the mistake.
    if kind == SplitKind::Mset && cmd.argc() % 2 == 0 {
        return Ok(cmd.arg_at(1).map_or(Split::Keyless, |key| Split::Single(key_slot(key))));
    }
    split_keys(cmd, kind)
}

/// One key of a splittable command: its slot, the key, and MSET's value.
struct Entry<'a> {
    slot: u16,
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

fn split_keys(cmd: &Cmd, kind: SplitKind) -> Result<Split, Error> {
    let mut args = cmd.args().skip(1);
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(cmd.argc().saturating_sub(1));
    while let Some(key) = args.next() {
        let value = if kind == SplitKind::Mset { args.next() } else { None };
        entries.push(Entry { slot: key_slot(key), key, value });
    }
    let Some(first) = entries.first().map(|e| e.slot) else {
        return Ok(Split::Keyless);
    };
    if entries.iter().all(|e| e.slot == first) {
        return Ok(Split::Single(first));
    }
    // Stable sort by slot: keys keep the caller's order inside each part.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries.get(i).map_or(0, |e| e.slot));
    let mut parts: Vec<Part> = Vec::new();
    for position in order {
        let Some(entry) = entries.get(position) else { continue };
        if parts.last().map(|p| p.slot) != Some(entry.slot) {
            parts.push(Part { slot: entry.slot, cmd: cmd.same_name(), positions: Vec::new() });
        }
        let Some(part) = parts.last_mut() else { continue };
        part.cmd.push_bytes(entry.key);
        if let Some(value) = entry.value {
            part.cmd.push_bytes(value);
        }
        part.positions.push(position);
    }
    Ok(Split::Multi { kind, parts })
}

/// Rebuilds the caller's reply from the replies of a split command's parts:
/// each item pairs a part's [`Part::positions`] with its reply.
///
/// # Errors
/// The first error reply, as [`Error::Server`]; [`Error::Type`] for a reply
/// of the wrong shape (an MGET part whose array does not have one value per
/// key, a count that is not an integer); [`Error::UnexpectedReply`] when the positions
/// do not cover every key exactly once or a count overflows.
pub fn merge(kind: SplitKind, parts_replies: Vec<(Vec<usize>, Frame)>) -> Result<Frame, Error> {
    match kind {
        SplitKind::Count => sum(parts_replies.into_iter().map(|(_, r)| r).collect()),
        SplitKind::Mset => all_ok(parts_replies.into_iter().map(|(_, r)| r).collect()),
        SplitKind::Mget => {
            let total = parts_replies.iter().map(|(p, _)| p.len()).sum();
            let mut values: Vec<Option<Frame>> = vec![None; total];
            for (positions, r) in parts_replies {
                let items = elements(reply(r)?)?;
                if items.len() != positions.len() {
                    return Err(Error::Type {
                        expected: "one value per key",
                        got: format!("{} values for {} keys", items.len(), positions.len()),
                    });
                }
                for (position, item) in positions.into_iter().zip(items) {
                    match values.get_mut(position) {
                        Some(slot @ None) => *slot = Some(item),
                        _ => {
                            return Err(Error::UnexpectedReply {
                                what: "split positions do not cover each key once",
                            })
                        }
                    }
                }
            }
            // Every slot is filled: `total` positions, each in range and used once.
            Ok(Frame::Array(values.into_iter().map(|v| v.unwrap_or(Frame::Null)).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;
    use crate::error::ServerError;

    fn c(args: &[&str]) -> Cmd {
        let (name, rest) = args.split_first().unwrap();
        cmd(name).args_from(rest.iter().copied())
    }

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn args_of(command: &Cmd) -> Vec<String> {
        command.args().map(|a| String::from_utf8(a.to_vec()).unwrap()).collect()
    }

    fn err(line: &str) -> Frame {
        Frame::SimpleError(ServerError::from_line(line).unwrap())
    }

    // "foo" and "bar" hash to different slots (12182 and 5061).
    const FOO: u16 = 12182;
    const BAR: u16 = 5061;

    #[test]
    fn same_slot_is_single() {
        assert_eq!(split_by_slot(&c(&["MGET", "{x}a", "{x}b"])).unwrap(), Split::Single(key_slot(b"x")));
        assert_eq!(split_by_slot(&c(&["GET", "foo"])).unwrap(), Split::Single(FOO));
        assert_eq!(split_by_slot(&c(&["MSET", "foo", "1"])).unwrap(), Split::Single(FOO));
        assert_eq!(split_by_slot(&c(&["PING"])).unwrap(), Split::Keyless);
        assert_eq!(split_by_slot(&c(&["MGET"])).unwrap(), Split::Keyless);
    }

    #[test]
    fn other_commands_across_slots_are_refused() {
        for args in [
            &["EVAL", "s", "2", "foo", "bar"][..],
            &["SINTER", "foo", "bar"],
            &["RENAME", "foo", "bar"],
            &["MSETNX", "foo", "1", "bar", "2"],
            &["ZUNIONSTORE", "foo", "1", "bar"],
        ] {
            assert!(matches!(split_by_slot(&c(args)), Err(Error::CrossSlot)), "{args:?}");
        }
    }

    #[test]
    fn mget_splits_and_merges_in_caller_order() {
        let Split::Multi { kind, parts } =
            split_by_slot(&c(&["MGET", "foo", "bar", "{foo}2", "foo"])).unwrap()
        else {
            panic!("expected a split")
        };
        assert_eq!(kind, SplitKind::Mget);
        assert_eq!(parts.len(), 2);
        // Parts are ordered by slot: BAR < FOO.
        assert_eq!(parts[0].slot, BAR);
        assert_eq!(args_of(&parts[0].cmd), ["MGET", "bar"]);
        assert_eq!(parts[0].positions, [1]);
        assert_eq!(parts[1].slot, FOO);
        assert_eq!(args_of(&parts[1].cmd), ["MGET", "foo", "{foo}2", "foo"]);
        assert_eq!(parts[1].positions, [0, 2, 3]);

        let replies = vec![
            (parts[0].positions.clone(), Frame::Array(vec![bulk("B")])),
            (parts[1].positions.clone(), Frame::Array(vec![bulk("F"), Frame::NullBulk, bulk("F")])),
        ];
        let merged = merge(kind, replies).unwrap();
        assert_eq!(merged, Frame::Array(vec![bulk("F"), bulk("B"), Frame::NullBulk, bulk("F")]));
    }

    #[test]
    fn mget_merge_rejects_bad_replies() {
        let short = vec![(vec![0, 1], Frame::Array(vec![bulk("x")]))];
        assert!(matches!(merge(SplitKind::Mget, short), Err(Error::Type { .. })));
        let dup = vec![(vec![0], Frame::Array(vec![bulk("x")])), (vec![0], Frame::Array(vec![bulk("y")]))];
        assert!(matches!(merge(SplitKind::Mget, dup), Err(Error::UnexpectedReply { .. })));
        let out_of_range = vec![(vec![5], Frame::Array(vec![bulk("x")]))];
        assert!(matches!(merge(SplitKind::Mget, out_of_range), Err(Error::UnexpectedReply { .. })));
        let error = vec![(vec![0], err("ERR boom")), (vec![1], Frame::Array(vec![bulk("y")]))];
        assert!(matches!(merge(SplitKind::Mget, error), Err(Error::Server(_))));
        let not_array = vec![(vec![0], bulk("x"))];
        assert!(matches!(merge(SplitKind::Mget, not_array), Err(Error::Type { .. })));
    }

    #[test]
    fn mset_keeps_values_with_keys() {
        let Split::Multi { kind, parts } =
            split_by_slot(&c(&["mset", "foo", "1", "bar", "2", "{bar}x", "3"]).idempotent()).unwrap()
        else {
            panic!("expected a split")
        };
        assert_eq!(kind, SplitKind::Mset);
        // Each part keeps the caller's spelling of the name.
        assert_eq!(args_of(&parts[0].cmd), ["mset", "bar", "2", "{bar}x", "3"]);
        assert_eq!(parts[0].positions, [1, 2]);
        assert_eq!(args_of(&parts[1].cmd), ["mset", "foo", "1"]);
        assert_eq!(parts[1].positions, [0]);
        assert!(parts.iter().all(|p| p.cmd.is_idempotent()), "flags carry over to parts");

        let ok_all = vec![(vec![1, 2], ok()), (vec![0], ok())];
        assert_eq!(merge(kind, ok_all).unwrap(), ok());
        let one_failed = vec![(vec![1, 2], ok()), (vec![0], err("OOM no memory"))];
        match merge(kind, one_failed) {
            Err(Error::Server(e)) => assert_eq!(e.code(), b"OOM"),
            other => panic!("{other:?}"),
        }
        let not_ok = vec![(vec![0], Frame::Integer(1))];
        assert!(matches!(merge(kind, not_ok), Err(Error::Type { .. })));
    }

    #[test]
    fn malformed_mset_is_sent_whole() {
        assert_eq!(split_by_slot(&c(&["MSET", "foo", "1", "bar"])).unwrap(), Split::Single(FOO));
    }

    #[test]
    fn counting_commands_sum() {
        for name in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
            let Split::Multi { kind, parts } = split_by_slot(&c(&[name, "foo", "bar", "foo"])).unwrap()
            else {
                panic!("{name}: expected a split")
            };
            assert_eq!(kind, SplitKind::Count);
            assert_eq!(args_of(&parts[1].cmd), [name, "foo", "foo"], "{name}");
            let replies =
                parts.iter().map(|p| (p.positions.clone(), Frame::Integer(p.positions.len() as i64)));
            assert_eq!(merge(kind, replies.collect()).unwrap(), Frame::Integer(3), "{name}");
        }
        let overflow = vec![(vec![0], Frame::Integer(i64::MAX)), (vec![1], Frame::Integer(1))];
        assert!(matches!(merge(SplitKind::Count, overflow), Err(Error::UnexpectedReply { .. })));
    }

    #[test]
    fn fan_out_sum_concat_ok() {
        let n = |i| Frame::Integer(i);
        assert_eq!(merge_fan_out(FanOut::Sum, vec![n(1), n(2), n(39)]).unwrap(), n(42));
        assert!(matches!(merge_fan_out(FanOut::Sum, vec![n(1), bulk("x")]), Err(Error::Type { .. })));
        assert!(matches!(merge_fan_out(FanOut::Sum, vec![]), Err(Error::UnexpectedReply { .. })));

        let keys = merge_fan_out(
            FanOut::Concat,
            vec![Frame::Array(vec![bulk("a")]), Frame::Array(vec![]), Frame::Set(vec![bulk("b"), bulk("c")])],
        )
        .unwrap();
        assert_eq!(keys, Frame::Array(vec![bulk("a"), bulk("b"), bulk("c")]));

        assert_eq!(merge_fan_out(FanOut::AllOk, vec![ok(), ok()]).unwrap(), ok());
        match merge_fan_out(FanOut::AllOk, vec![ok(), err("READONLY replica"), err("ERR x")]) {
            Err(Error::Server(e)) => assert_eq!(e.code(), b"READONLY"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fan_out_all_same() {
        let sha = bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert_eq!(merge_fan_out(FanOut::AllSame, vec![sha.clone(), sha.clone()]).unwrap(), sha);
        assert!(matches!(
            merge_fan_out(FanOut::AllSame, vec![sha, bulk("other")]),
            Err(Error::UnexpectedReply { .. })
        ));
    }

    #[test]
    fn fan_out_and() {
        let arr = |v: &[i64]| Frame::Array(v.iter().map(|&i| Frame::Integer(i)).collect());
        let merged = merge_fan_out(FanOut::And, vec![arr(&[1, 1, 0]), arr(&[1, 0, 1])]).unwrap();
        assert_eq!(merged, arr(&[1, 0, 0]));
        let bools = Frame::Array(vec![Frame::Boolean(true), Frame::Boolean(true), Frame::Boolean(false)]);
        assert_eq!(merge_fan_out(FanOut::And, vec![arr(&[1, 1, 1]), bools]).unwrap(), arr(&[1, 1, 0]));
        assert!(matches!(
            merge_fan_out(FanOut::And, vec![arr(&[1]), arr(&[1, 1])]),
            Err(Error::UnexpectedReply { .. })
        ));
    }

    #[test]
    fn fan_out_per_node_cursor_keeps_each_reply() {
        let node = |cursor: &str, key: &str| Frame::Array(vec![bulk(cursor), Frame::Array(vec![bulk(key)])]);
        let merged = merge_fan_out(FanOut::PerNodeCursor, vec![node("0", "a"), node("17", "b")]).unwrap();
        assert_eq!(merged, Frame::Array(vec![node("0", "a"), node("17", "b")]));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Keys from a small alphabet, so lists repeat keys and share slots;
        /// some carry a hash tag.
        fn key() -> impl Strategy<Value = String> {
            prop_oneof!["[a-f]{1,2}", "\\{[a-c]\\}[a-f]",]
        }

        proptest! {
            #[test]
            fn mget_split_then_merge_restores_caller_order(keys in prop::collection::vec(key(), 1..40)) {
                let command = cmd("MGET").args_from(keys.iter());
                let replies_for = |parts: &[Part]| -> Vec<(Vec<usize>, Frame)> {
                    parts.iter().map(|p| {
                        // Each node answers with the key itself, so order mistakes show.
                        let values = p.cmd.args().skip(1).map(|k| Frame::BulkString(Bytes::copy_from_slice(k))).collect();
                        (p.positions.clone(), Frame::Array(values))
                    }).collect()
                };
                let expected = Frame::Array(keys.iter().map(|k| bulk(k)).collect());
                match split_by_slot(&command).unwrap() {
                    Split::Single(slot) => prop_assert!(keys.iter().all(|k| key_slot(k.as_bytes()) == slot)),
                    Split::Multi { kind, parts } => {
                        prop_assert!(parts.len() > 1);
                        for part in &parts {
                            prop_assert!(part.cmd.args().skip(1).all(|k| key_slot(k) == part.slot));
                            prop_assert!(part.positions.windows(2).all(|w| w[0] < w[1]));
                        }
                        prop_assert_eq!(merge(kind, replies_for(&parts)).unwrap(), expected);
                    }
                    Split::Keyless => prop_assert!(false, "MGET with keys is never keyless"),
                }
            }

            #[test]
            fn mset_parts_keep_every_pair(keys in prop::collection::vec(key(), 1..30)) {
                let mut command = cmd("MSET");
                for (n, k) in keys.iter().enumerate() {
                    command = command.arg(k).arg(n);
                }
                if let Split::Multi { parts, .. } = split_by_slot(&command).unwrap() {
                    let mut seen = Vec::new();
                    for part in &parts {
                        let args: Vec<&[u8]> = part.cmd.args().skip(1).collect();
                        prop_assert_eq!(args.len(), part.positions.len() * 2);
                        for (pair, &position) in args.chunks(2).zip(&part.positions) {
                            prop_assert_eq!(pair[0], keys[position].as_bytes());
                            let value = position.to_string();
                            prop_assert_eq!(pair[1], value.as_bytes());
                            seen.push(position);
                        }
                    }
                    seen.sort_unstable();
                    prop_assert_eq!(seen, (0..keys.len()).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn attributes_are_ignored() {
        let attributed = Frame::Attributed {
            attributes: vec![(bulk("k"), bulk("v"))],
            frame: Box::new(Frame::Integer(2)),
        };
        assert_eq!(
            merge_fan_out(FanOut::Sum, vec![attributed, Frame::Integer(1)]).unwrap(),
            Frame::Integer(3)
        );
    }
}
