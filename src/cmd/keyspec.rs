//! Where a command's keys are: [`KeySpec`] and the walk from a spec and the
//! arguments to the keys themselves.
//!
//! Lives here: [`KeySpec`] (one variant per shape of argument list),
//! [`KeySpec::keys_in`], and the XREAD/XREADGROUP option scanner the command
//! table also uses to see a `BLOCK` option. Not here: which command has which
//! spec (`table`), or what slot a key hashes to (`route::slot`).
//!
//! Pure: no async runtime, no sockets, no clock.

use super::Cmd;

/// Where the keys of a command are, by argument index (0 is the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySpec {
    /// No keys (PING, INFO, SUBSCRIBE ...).
    None,
    /// One key at this index (GET: 1; OBJECT ENCODING, MEMORY USAGE: 2).
    At(usize),
    /// Two keys at this index and the next (RENAME, COPY, SMOVE, LMOVE ...).
    Pair(usize),
    /// Every argument from `first` on, except the last `trailing` ones
    /// (DEL, MGET: from 1; BLPOP: from 1 but the timeout is last; BITOP: from 2).
    From {
        /// Index of the first key.
        first: usize,
        /// How many arguments after the keys are not keys.
        trailing: usize,
    },
    /// Every other argument from this index: key, value, key, value (MSET, MSETNX).
    EveryOther(usize),
    /// A key count at `count_at`, followed by that many keys (EVAL, ZUNION,
    /// LMPOP, BLMPOP ...), plus, for the `*STORE` forms, a destination key at
    /// `dest`.
    NumKeys {
        /// Index of the key count.
        count_at: usize,
        /// Index of a destination key before the count, if any.
        dest: Option<usize>,
    },
    /// XREAD / XREADGROUP: after the `STREAMS` keyword, the first half of the
    /// remaining arguments are keys, the second half their IDs.
    Streams,
}

/// Walks the options of XREAD/XREADGROUP, calling `seen` with each option
/// name, and returns the index of the `STREAMS` keyword. Options are skipped
/// with their arguments, so a group or consumer named "streams" is not taken
/// for the keyword.
pub(super) fn scan_stream_options(cmd: &Cmd, mut seen: impl FnMut(&[u8])) -> Option<usize> {
    let mut args = cmd.args().enumerate().skip(1);
    while let Some((i, option)) = args.next() {
        seen(option);
        let skip = if option.eq_ignore_ascii_case(b"STREAMS") {
            return Some(i);
        } else if option.eq_ignore_ascii_case(b"COUNT") || option.eq_ignore_ascii_case(b"BLOCK") {
            1
        } else if option.eq_ignore_ascii_case(b"GROUP") {
            2
        } else if option.eq_ignore_ascii_case(b"NOACK") {
            0
        } else {
            return None;
        };
        for _ in 0..skip {
            args.next()?;
        }
    }
    None
}

/// A key count argument; anything that is not a small non-negative integer
/// counts as zero keys (the server rejects the command with its own error).
fn parse_count(arg: Option<&[u8]>) -> usize {
    let Some(arg) = arg.filter(|a| !a.is_empty() && a.len() <= 10) else {
        return 0;
    };
    let mut n = 0usize;
    for &d in arg {
        if !d.is_ascii_digit() {
            return 0;
        }
        n = n * 10 + usize::from(d - b'0');
    }
    n
}

/// The key positions of one command, resolved from its [`KeySpec`] and arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Positions {
    /// A key before the others (the destination of ZUNIONSTORE ...).
    dest: Option<usize>,
    /// First index of the regular keys.
    first: usize,
    /// One past the last index of the regular keys.
    end: usize,
    /// Distance between keys (2 for MSET).
    step: usize,
}

impl Positions {
    const EMPTY: Positions = Positions { dest: None, first: 0, end: 0, step: 1 };

    fn contains(&self, i: usize) -> bool {
        self.dest == Some(i) || (i >= self.first && i < self.end && (i - self.first) % self.step == 0)
    }

    /// One past the last index that can hold a key.
    fn limit(&self) -> usize {
        self.dest.map_or(self.end, |d| self.end.max(d + 1))
    }
}

impl KeySpec {
    fn positions(self, cmd: &Cmd) -> Positions {
        let argc = cmd.argc();
        let range =
            |first: usize, end: usize, step: usize| Positions { dest: None, first, end: end.min(argc), step };
        match self {
            KeySpec::None => Positions::EMPTY,
            KeySpec::At(i) => range(i, i.saturating_add(1), 1),
            KeySpec::Pair(i) => range(i, i.saturating_add(2), 1),
            KeySpec::From { first, trailing } => range(first, argc.saturating_sub(trailing), 1),
            KeySpec::EveryOther(i) => range(i, argc, 2),
            KeySpec::NumKeys { count_at, dest } => {
                let first = count_at.saturating_add(1);
                let count = parse_count(cmd.arg_at(count_at));
                let mut p = range(first, first.saturating_add(count), 1);
                p.dest = dest.filter(|&d| d < argc);
                p
            }
            KeySpec::Streams => match scan_stream_options(cmd, |_| {}) {
                Some(keyword) => {
                    let first = keyword + 1;
                    range(first, first + argc.saturating_sub(first) / 2, 1)
                }
                None => Positions::EMPTY,
            },
        }
    }

    /// The keys of `cmd` according to this spec, in argument order.
    pub fn keys_in<'a>(self, cmd: &'a Cmd) -> impl Iterator<Item = &'a [u8]> + 'a {
        let positions = self.positions(cmd);
        cmd.args()
            .take(positions.limit())
            .enumerate()
            .filter_map(move |(i, a)| positions.contains(i).then_some(a))
    }
}
