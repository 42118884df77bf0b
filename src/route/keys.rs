//! What a command is, for routing: where its keys are, whether it only reads,
//! blocks or subscribes, and whether it must reach every primary.
//!
//! Lives here: [`command_info`] (one `match` on the upper-cased name, no
//! allocation), [`CommandInfo`], [`KeySpec`], [`Flags`], and the key helpers
//! [`keys`] and [`slot_of`]. Not here: what to do with a command that spans
//! slots or nodes (`split`), or which node owns a slot (`topology`).
//!
//! Commands the table does not know are treated as "key at index 1, if any"
//! and flagged [`Flags::UNKNOWN`]: module commands (`JSON.GET key ...`) mostly
//! follow that shape, and a keyless one goes to any primary.
//!
//! Pure: no tokio, no sockets, no clock.

use std::ops::BitOr;

use crate::cmd::Cmd;
use crate::error::{Error, UseInstead};

use super::slot::key_slot;
use super::split::FanOut;

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

/// Properties of a command that matter to routing and retrying, as a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// Reads only: may go to a replica, and is safe to send again when its
    /// first outcome is unknown.
    pub const READ_ONLY: Flags = Flags(1);
    /// May modify data: must go to a primary.
    pub const WRITE: Flags = Flags(2);
    /// May block the connection waiting for data (BLPOP, XREAD BLOCK, WAIT ...).
    pub const BLOCKING: Flags = Flags(4);
    /// Changes subscription state (SUBSCRIBE, SSUBSCRIBE ...): belongs to a
    /// subscriber connection, not to the shared command path.
    pub const PUBSUB: Flags = Flags(8);
    /// Not in the table; keys were guessed (index 1, if any).
    pub const UNKNOWN: Flags = Flags(16);
    /// Changes the state of the connection it runs on in a way every other
    /// caller sharing that connection would see: subscriptions, MULTI/EXEC,
    /// WATCH, the database, the protocol or user, the reply mode, a
    /// replication or MONITOR stream, READONLY, ASKING. Refused on shared
    /// (multiplexed) connections: see [`check_shared`].
    pub const STATEFUL: Flags = Flags(32);

    /// True when every flag of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

impl BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// What routing needs to know about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// Where the keys are.
    pub keys: KeySpec,
    /// Read-only, write, blocking, pub/sub, unknown.
    pub flags: Flags,
    /// Set for keyless commands that must reach every primary, with how to
    /// merge their replies.
    pub fan_out: Option<FanOut>,
}

impl CommandInfo {
    const fn new(keys: KeySpec, flags: Flags) -> CommandInfo {
        CommandInfo { keys, flags, fan_out: None }
    }

    const fn to_all(policy: FanOut, flags: Flags) -> CommandInfo {
        CommandInfo { keys: KeySpec::None, flags, fan_out: Some(policy) }
    }

    /// True for commands that only read (see [`Flags::READ_ONLY`]).
    pub fn is_read_only(&self) -> bool {
        self.flags.contains(Flags::READ_ONLY)
    }

    /// True for commands that may modify data.
    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// True for commands that may block their connection.
    pub fn is_blocking(&self) -> bool {
        self.flags.contains(Flags::BLOCKING)
    }

    /// True for subscription commands.
    pub fn is_pubsub(&self) -> bool {
        self.flags.contains(Flags::PUBSUB)
    }

    /// True for commands that change their connection's state (see [`Flags::STATEFUL`]).
    pub fn is_stateful(&self) -> bool {
        self.flags.contains(Flags::STATEFUL)
    }

    /// True for commands the table does not know.
    pub fn is_unknown(&self) -> bool {
        self.flags.contains(Flags::UNKNOWN)
    }

    /// True when the command takes no keys by its shape (the key list of a
    /// keyed command can still be empty when its arguments are malformed).
    pub fn is_keyless(&self) -> bool {
        self.keys == KeySpec::None
    }
}

/// Longest command or subcommand name the table knows (`GEORADIUSBYMEMBER_RO`
/// is 20 bytes); anything longer is unknown, so it is not upper-cased.
const MAX_NAME: usize = 24;

/// Upper-cases `name` into `buf`; `None` when it is too long to be in the table.
fn upper<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (o, &c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_uppercase();
    }
    Some(out)
}

const R: Flags = Flags::READ_ONLY;
const W: Flags = Flags::WRITE;
const B: Flags = Flags::BLOCKING;
const P: Flags = Flags::PUBSUB;
const S: Flags = Flags::STATEFUL;
const N: Flags = Flags::NONE;

/// Classifies `cmd` by its name (and subcommand, where that decides the keys).
///
/// Never fails: an unknown command gets [`KeySpec::At`]`(1)` and
/// [`Flags::UNKNOWN`]. A command built with [`Cmd::blocking`] is flagged
/// [`Flags::BLOCKING`] whatever its name.
pub fn command_info(cmd: &Cmd) -> CommandInfo {
    let mut info = lookup(cmd);
    if cmd.is_blocking() {
        info.flags = info.flags | B;
    }
    info
}

fn lookup(cmd: &Cmd) -> CommandInfo {
    use KeySpec::{At, EveryOther, NumKeys, Pair, Streams};
    const ALL: KeySpec = KeySpec::From { first: 1, trailing: 0 };
    const NONE: KeySpec = KeySpec::None;

    let mut buf = [0u8; MAX_NAME];
    let Some(name) = upper(cmd.name(), &mut buf) else {
        return unknown();
    };
    let info = CommandInfo::new;
    match name {
        // Reads of one key: strings and the keyspace,
        b"GET" | b"STRLEN" | b"GETRANGE" | b"SUBSTR" | b"GETBIT" | b"BITCOUNT" | b"BITPOS"
        | b"BITFIELD_RO" | b"TTL" | b"PTTL" | b"EXPIRETIME" | b"PEXPIRETIME" | b"TYPE" | b"DUMP"
        | b"SORT_RO" => info(At(1), R),
        // hashes,
        b"HGET" | b"HGETALL" | b"HMGET" | b"HEXISTS" | b"HLEN" | b"HKEYS" | b"HVALS" | b"HSTRLEN"
        | b"HRANDFIELD" | b"HSCAN" | b"HTTL" | b"HPTTL" | b"HEXPIRETIME" | b"HPEXPIRETIME" => info(At(1), R),
        // lists and sets,
        b"LRANGE" | b"LLEN" | b"LINDEX" | b"LPOS" | b"SMEMBERS" | b"SISMEMBER" | b"SMISMEMBER" | b"SCARD"
        | b"SRANDMEMBER" | b"SSCAN" => info(At(1), R),
        // sorted sets,
        b"ZRANGE" | b"ZRANGEBYSCORE" | b"ZRANGEBYLEX" | b"ZREVRANGE" | b"ZREVRANGEBYSCORE"
        | b"ZREVRANGEBYLEX" | b"ZSCORE" | b"ZMSCORE" | b"ZCARD" | b"ZCOUNT" | b"ZLEXCOUNT" | b"ZRANK"
        | b"ZREVRANK" | b"ZRANDMEMBER" | b"ZSCAN" => info(At(1), R),
        // streams,
        b"XRANGE" | b"XREVRANGE" | b"XLEN" | b"XPENDING" => info(At(1), R),
        // geo.
        b"GEOPOS" | b"GEODIST" | b"GEOHASH" | b"GEORADIUS_RO" | b"GEORADIUSBYMEMBER_RO" | b"GEOSEARCH" => {
            info(At(1), R)
        }
        // Reads of several keys.
        b"MGET" | b"EXISTS" | b"TOUCH" | b"SINTER" | b"SUNION" | b"SDIFF" | b"PFCOUNT" => info(ALL, R),
        b"LCS" => info(Pair(1), R),
        b"ZUNION" | b"ZINTER" | b"ZDIFF" | b"ZINTERCARD" | b"SINTERCARD" => {
            info(NumKeys { count_at: 1, dest: None }, R)
        }
        b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL_RO" => info(NumKeys { count_at: 2, dest: None }, R),
        b"XREAD" => info(Streams, R | block_option(cmd)),

        // Writes of one key.
        b"SET" | b"SETNX" | b"SETEX" | b"PSETEX" | b"GETSET" | b"GETDEL" | b"GETEX" | b"APPEND" | b"INCR"
        | b"DECR" | b"INCRBY" | b"DECRBY" | b"INCRBYFLOAT" | b"SETRANGE" | b"SETBIT" | b"BITFIELD"
        | b"EXPIRE" | b"PEXPIRE" | b"EXPIREAT" | b"PEXPIREAT" | b"PERSIST" | b"RESTORE" | b"HSET"
        | b"HSETNX" | b"HMSET" | b"HDEL" | b"HINCRBY" | b"HINCRBYFLOAT" | b"HEXPIRE" | b"HPEXPIRE"
        | b"HEXPIREAT" | b"HPEXPIREAT" | b"HPERSIST" | b"HGETDEL" | b"HGETEX" | b"HSETEX" | b"LPUSH"
        | b"RPUSH" | b"LPUSHX" | b"RPUSHX" | b"LPOP" | b"RPOP" | b"LSET" | b"LREM" | b"LTRIM"
        | b"LINSERT" | b"SADD" | b"SREM" | b"SPOP" | b"ZADD" | b"ZINCRBY" | b"ZREM" | b"ZREMRANGEBYSCORE"
        | b"ZREMRANGEBYRANK" | b"ZREMRANGEBYLEX" | b"ZPOPMIN" | b"ZPOPMAX" | b"XADD" | b"XDEL" | b"XTRIM"
        | b"XACK" | b"XCLAIM" | b"XAUTOCLAIM" | b"XSETID" | b"PFADD" | b"GEOADD" | b"SORT" | b"GEORADIUS"
        | b"GEORADIUSBYMEMBER" => info(At(1), W),
        // Writes of several keys.
        b"DEL" | b"UNLINK" | b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" | b"PFMERGE" => info(ALL, W),
        b"BITOP" => info(KeySpec::From { first: 2, trailing: 0 }, W),
        b"MSET" | b"MSETNX" => info(EveryOther(1), W),
        b"RENAME" | b"RENAMENX" | b"COPY" | b"SMOVE" | b"LMOVE" | b"RPOPLPUSH" | b"GEOSEARCHSTORE"
        | b"ZRANGESTORE" => info(Pair(1), W),
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => info(NumKeys { count_at: 2, dest: Some(1) }, W),
        b"LMPOP" | b"ZMPOP" => info(NumKeys { count_at: 1, dest: None }, W),
        b"EVAL" | b"EVALSHA" | b"FCALL" => info(NumKeys { count_at: 2, dest: None }, W),
        b"XREADGROUP" => info(Streams, W | block_option(cmd)),

        // Blocking forms.
        b"BLPOP" | b"BRPOP" | b"BZPOPMIN" | b"BZPOPMAX" => {
            info(KeySpec::From { first: 1, trailing: 1 }, W | B)
        }
        b"BLMOVE" | b"BRPOPLPUSH" => info(Pair(1), W | B),
        // Timeout first, then the key count.
        b"BLMPOP" | b"BZMPOP" => info(NumKeys { count_at: 2, dest: None }, W | B),
        b"WAIT" | b"WAITAOF" => info(NONE, B),

        // Keys behind a subcommand.
        b"OBJECT" => match sub(cmd, &mut buf) {
            Some(b"ENCODING" | b"FREQ" | b"IDLETIME" | b"REFCOUNT") => info(At(2), R),
            _ => info(NONE, R),
        },
        b"MEMORY" => match sub(cmd, &mut buf) {
            Some(b"USAGE") => info(At(2), R),
            _ => info(NONE, N),
        },
        b"XINFO" => match sub(cmd, &mut buf) {
            Some(b"STREAM" | b"GROUPS" | b"CONSUMERS") => info(At(2), R),
            _ => info(NONE, R),
        },
        b"XGROUP" => match sub(cmd, &mut buf) {
            Some(b"CREATE" | b"SETID" | b"DESTROY" | b"CREATECONSUMER" | b"DELCONSUMER") => info(At(2), W),
            _ => info(NONE, N),
        },

        // Keyless commands that must reach every primary.
        b"FLUSHALL" | b"FLUSHDB" => CommandInfo::to_all(FanOut::AllOk, W),
        b"DBSIZE" => CommandInfo::to_all(FanOut::Sum, R),
        b"KEYS" => CommandInfo::to_all(FanOut::Concat, R),
        b"SCAN" => CommandInfo::to_all(FanOut::PerNodeCursor, R),
        b"SCRIPT" => match sub(cmd, &mut buf) {
            Some(b"LOAD") => CommandInfo::to_all(FanOut::AllSame, N),
            Some(b"FLUSH") => CommandInfo::to_all(FanOut::AllOk, N),
            Some(b"EXISTS") => CommandInfo::to_all(FanOut::And, R),
            // Turns the connection into a Lua debugging session.
            Some(b"DEBUG") => info(NONE, S),
            _ => info(NONE, N),
        },
        b"FUNCTION" => match sub(cmd, &mut buf) {
            Some(b"LOAD") => CommandInfo::to_all(FanOut::AllSame, W),
            Some(b"FLUSH" | b"DELETE" | b"RESTORE") => CommandInfo::to_all(FanOut::AllOk, W),
            Some(b"LIST" | b"DUMP" | b"STATS") => info(NONE, R),
            _ => info(NONE, N),
        },
        b"CONFIG" => match sub(cmd, &mut buf) {
            Some(b"SET" | b"RESETSTAT") => CommandInfo::to_all(FanOut::AllOk, N),
            Some(b"GET") => info(NONE, R),
            _ => info(NONE, N),
        },

        // Subscriptions: shard channels hash like keys.
        b"SUBSCRIBE" | b"UNSUBSCRIBE" | b"PSUBSCRIBE" | b"PUNSUBSCRIBE" => info(NONE, P | S),
        b"SSUBSCRIBE" | b"SUNSUBSCRIBE" => info(ALL, P | S),
        b"SPUBLISH" => info(At(1), N),

        // Keyless, any node will do.
        b"PING" | b"ECHO" | b"TIME" | b"INFO" | b"LASTSAVE" | b"ROLE" | b"RANDOMKEY" | b"LOLWUT"
        | b"PUBSUB" | b"COMMAND" => info(NONE, R),
        b"CLUSTER" | b"PUBLISH" | b"SLOWLOG" | b"LATENCY" | b"ACL" | b"SAVE" | b"BGSAVE"
        | b"BGREWRITEAOF" | b"SHUTDOWN" | b"SWAPDB" | b"FAILOVER" | b"REPLICAOF" | b"SLAVEOF" | b"DEBUG"
        | b"MODULE" => info(NONE, N),
        // Connection state every caller of a shared connection would see.
        b"HELLO" | b"AUTH" | b"SELECT" | b"QUIT" | b"RESET" | b"READONLY" | b"READWRITE" | b"ASKING"
        | b"MULTI" | b"EXEC" | b"DISCARD" | b"UNWATCH" | b"MONITOR" | b"SYNC" | b"PSYNC" => info(NONE, S),
        b"WATCH" => info(ALL, S),
        b"CLIENT" => match sub(cmd, &mut buf) {
            // Replies switched off or skipped, invalidation pushes, the
            // next command's caching, redirect replies: all of them change
            // what the other callers' commands get back.
            Some(b"REPLY" | b"TRACKING" | b"CACHING" | b"CAPA") => info(NONE, S),
            _ => info(NONE, N),
        },

        _ => unknown(),
    }
}

fn unknown() -> CommandInfo {
    CommandInfo::new(KeySpec::At(1), Flags::UNKNOWN)
}

/// The subcommand (argument 1), upper-cased into `buf`.
fn sub<'b>(cmd: &Cmd, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    upper(cmd.arg_at(1)?, buf)
}

/// [`Flags::BLOCKING`] when an XREAD/XREADGROUP carries a `BLOCK` option
/// before `STREAMS`.
fn block_option(cmd: &Cmd) -> Flags {
    let mut blocking = N;
    scan_stream_options(cmd, |option| {
        if option.eq_ignore_ascii_case(b"BLOCK") {
            blocking = B;
        }
    });
    blocking
}

/// Walks the options of XREAD/XREADGROUP, calling `seen` with each option
/// name, and returns the index of the `STREAMS` keyword. Options are skipped
/// with their arguments, so a group or consumer named "streams" is not taken
/// for the keyword.
fn scan_stream_options(cmd: &Cmd, mut seen: impl FnMut(&[u8])) -> Option<usize> {
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

/// The keys of `cmd`, in argument order (repeated keys are repeated).
pub fn keys<'a>(cmd: &'a Cmd) -> impl Iterator<Item = &'a [u8]> + 'a {
    command_info(cmd).keys.keys_in(cmd)
}

/// The one slot all keys of `cmd` hash to, or `None` for a command without keys.
///
/// # Errors
/// [`Error::CrossSlot`] when two keys hash to different slots: a command that
/// must run on one node cannot be sent as is (see `split` for the commands
/// that can be split instead).
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

/// Refuses a command that would change the state of a shared connection
/// (flagged [`Flags::STATEFUL`]); `Ok` for every other command. The standalone
/// client calls it before using its multiplexed connection, the cluster
/// router before routing; exclusive connections (`Pooled`) and the
/// transaction and pub/sub APIs, which build these commands themselves, do not.
///
/// # Errors
/// [`Error::NotOnSharedConnection`] naming the command and the API to use instead.
pub fn check_shared(cmd: &Cmd) -> Result<(), Error> {
    // Most commands (GET, HSET, INCR ...) start with a letter no stateful
    // command starts with: skip the table for them.
    let first = cmd.name().first().map(u8::to_ascii_uppercase);
    if !matches!(
        first,
        Some(b'A' | b'C' | b'D' | b'E' | b'H' | b'M' | b'P' | b'Q' | b'R' | b'S' | b'U' | b'W')
    ) {
        return Ok(());
    }
    refuse_stateful(cmd, &command_info(cmd))
}

/// As [`check_shared`], for a command already looked up.
///
/// # Errors
/// As [`check_shared`].
pub fn refuse_stateful(cmd: &Cmd, info: &CommandInfo) -> Result<(), Error> {
    if !info.is_stateful() {
        return Ok(());
    }
    let mut buf = [0u8; MAX_NAME];
    let name = upper(cmd.name(), &mut buf).unwrap_or(b"?");
    let use_instead = if info.is_pubsub() {
        UseInstead::Subscriber
    } else {
        match name {
            b"MULTI" | b"EXEC" | b"DISCARD" => UseInstead::Transaction,
            b"HELLO" | b"AUTH" | b"SELECT" | b"READONLY" | b"READWRITE" => UseInstead::ConnectOptions,
            _ => UseInstead::Exclusive,
        }
    };
    let mut command = String::from_utf8_lossy(name).into_owned();
    if matches!(name, b"CLIENT" | b"SCRIPT") {
        let mut sub_buf = [0u8; MAX_NAME];
        if let Some(s) = sub(cmd, &mut sub_buf) {
            command.push(' ');
            command.push_str(&String::from_utf8_lossy(s));
        }
    }
    Err(Error::NotOnSharedConnection { command: command.into_boxed_str(), use_instead })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    fn c(args: &[&str]) -> Cmd {
        let (name, rest) = args.split_first().unwrap();
        cmd(name).args_from(rest.iter().copied())
    }

    fn keys_of(args: &[&str]) -> Vec<String> {
        let command = c(args);
        keys(&command).map(|k| String::from_utf8(k.to_vec()).unwrap()).collect()
    }

    #[test]
    fn single_key_commands() {
        assert_eq!(keys_of(&["GET", "k"]), ["k"]);
        assert_eq!(keys_of(&["set", "k", "v", "EX", "10"]), ["k"]);
        assert_eq!(keys_of(&["HSET", "h", "f", "v"]), ["h"]);
        assert_eq!(keys_of(&["GET"]), Vec::<String>::new());
    }

    #[test]
    fn all_keys_from_one() {
        assert_eq!(keys_of(&["DEL", "a", "b", "c"]), ["a", "b", "c"]);
        assert_eq!(keys_of(&["mget", "a", "a", "b"]), ["a", "a", "b"]);
        assert_eq!(keys_of(&["SINTER", "s1", "s2"]), ["s1", "s2"]);
        assert_eq!(keys_of(&["WATCH", "w1", "w2"]), ["w1", "w2"]);
        assert_eq!(keys_of(&["BITOP", "AND", "dest", "k1", "k2"]), ["dest", "k1", "k2"]);
    }

    #[test]
    fn blocking_pops_skip_the_timeout() {
        assert_eq!(keys_of(&["BLPOP", "l1", "l2", "0"]), ["l1", "l2"]);
        assert_eq!(keys_of(&["BZPOPMIN", "z", "1.5"]), ["z"]);
        assert!(command_info(&c(&["BLPOP", "l", "0"])).is_blocking());
        assert!(!command_info(&c(&["LPOP", "l"])).is_blocking());
    }

    #[test]
    fn mset_takes_every_other() {
        assert_eq!(keys_of(&["MSET", "k1", "v1", "k2", "v2"]), ["k1", "k2"]);
        assert_eq!(keys_of(&["MSETNX", "k1", "v1"]), ["k1"]);
        // Malformed: a trailing key without a value is still a key.
        assert_eq!(keys_of(&["MSET", "k1", "v1", "k2"]), ["k1", "k2"]);
    }

    #[test]
    fn numkeys_forms() {
        assert_eq!(keys_of(&["EVAL", "return 1", "2", "a", "b", "arg1"]), ["a", "b"]);
        assert_eq!(keys_of(&["evalsha", "abc", "0", "notakey"]), Vec::<String>::new());
        assert_eq!(keys_of(&["FCALL_RO", "f", "1", "k", "x"]), ["k"]);
        assert_eq!(keys_of(&["ZUNIONSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "2"]), ["d", "z1", "z2"]);
        assert_eq!(keys_of(&["ZDIFFSTORE", "d", "1", "z1"]), ["d", "z1"]);
        assert_eq!(keys_of(&["ZUNION", "2", "z1", "z2", "WITHSCORES"]), ["z1", "z2"]);
        assert_eq!(keys_of(&["SINTERCARD", "2", "s1", "s2", "LIMIT", "5"]), ["s1", "s2"]);
        assert_eq!(keys_of(&["LMPOP", "2", "l1", "l2", "LEFT"]), ["l1", "l2"]);
        assert_eq!(keys_of(&["BLMPOP", "0.5", "1", "l1", "RIGHT", "COUNT", "2"]), ["l1"]);
        assert_eq!(keys_of(&["BZMPOP", "1", "2", "z1", "z2", "MIN"]), ["z1", "z2"]);
        // A count past the arguments is clamped; a bad count means no keys.
        assert_eq!(keys_of(&["EVAL", "s", "5", "a"]), ["a"]);
        assert_eq!(keys_of(&["EVAL", "s", "-1", "a"]), Vec::<String>::new());
        assert_eq!(keys_of(&["EVAL", "s", "x", "a"]), Vec::<String>::new());
        assert_eq!(keys_of(&["EVAL", "s", "99999999999999999999", "a"]), Vec::<String>::new());
        assert_eq!(keys_of(&["EVAL"]), Vec::<String>::new());
    }

    #[test]
    fn streams_keys_are_the_first_half() {
        assert_eq!(keys_of(&["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]), ["s1", "s2"]);
        assert_eq!(keys_of(&["xread", "block", "0", "streams", "s1", "$"]), ["s1"]);
        assert_eq!(
            keys_of(&["XREADGROUP", "GROUP", "streams", "c", "NOACK", "STREAMS", "s1", ">"]),
            ["s1"],
            "a group named like the keyword is skipped"
        );
        assert_eq!(keys_of(&["XREAD", "STREAMS"]), Vec::<String>::new());
        assert_eq!(keys_of(&["XREAD", "BOGUS", "STREAMS", "s", "0"]), Vec::<String>::new());
        assert_eq!(keys_of(&["XREAD", "COUNT"]), Vec::<String>::new());
        let xread = command_info(&c(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]));
        assert!(xread.is_blocking() && xread.is_read_only());
        let xread = command_info(&c(&["XREAD", "STREAMS", "s", "$"]));
        assert!(!xread.is_blocking() && xread.is_read_only());
        let group = command_info(&c(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]));
        assert!(!group.is_read_only() && group.is_write());
    }

    #[test]
    fn two_key_commands() {
        assert_eq!(keys_of(&["RENAME", "a", "b"]), ["a", "b"]);
        assert_eq!(keys_of(&["COPY", "a", "b", "REPLACE"]), ["a", "b"]);
        assert_eq!(keys_of(&["LMOVE", "a", "b", "LEFT", "RIGHT"]), ["a", "b"]);
        assert_eq!(keys_of(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]), ["a", "b"]);
        assert_eq!(keys_of(&["SMOVE", "a", "b", "m"]), ["a", "b"]);
        assert_eq!(keys_of(&["RPOPLPUSH", "a"]), ["a"]);
    }

    #[test]
    fn subcommand_forms() {
        assert_eq!(keys_of(&["OBJECT", "ENCODING", "k"]), ["k"]);
        assert_eq!(keys_of(&["object", "freq", "k"]), ["k"]);
        assert_eq!(keys_of(&["OBJECT", "HELP"]), Vec::<String>::new());
        assert_eq!(keys_of(&["MEMORY", "USAGE", "k", "SAMPLES", "5"]), ["k"]);
        assert_eq!(keys_of(&["MEMORY", "STATS"]), Vec::<String>::new());
        assert_eq!(keys_of(&["XINFO", "STREAM", "s", "FULL"]), ["s"]);
        assert_eq!(keys_of(&["XGROUP", "CREATE", "s", "g", "$"]), ["s"]);
        assert!(command_info(&c(&["MEMORY", "USAGE", "k"])).is_read_only());
    }

    #[test]
    fn unknown_commands_guess_index_one() {
        let info = command_info(&c(&["JSON.GET", "doc", "$.a"]));
        assert!(info.is_unknown());
        assert_eq!(info.keys, KeySpec::At(1));
        assert_eq!(keys_of(&["JSON.GET", "doc", "$.a"]), ["doc"]);
        assert_eq!(keys_of(&["NOSUCHCOMMAND"]), Vec::<String>::new());
        let long = "X".repeat(100);
        assert!(command_info(&c(&[&long, "k"])).is_unknown());
        assert!(!command_info(&c(&["GET", "k"])).is_unknown());
    }

    #[test]
    fn read_only_set() {
        for name in [
            "GET",
            "MGET",
            "EXISTS",
            "TTL",
            "PTTL",
            "STRLEN",
            "GETRANGE",
            "HGET",
            "HGETALL",
            "HMGET",
            "HEXISTS",
            "HLEN",
            "HKEYS",
            "HVALS",
            "LRANGE",
            "LLEN",
            "LINDEX",
            "SMEMBERS",
            "SISMEMBER",
            "SCARD",
            "ZRANGE",
            "ZSCORE",
            "ZCARD",
            "ZRANK",
            "TYPE",
            "SCAN",
            "KEYS",
            "DBSIZE",
            "EVAL_RO",
            "EVALSHA_RO",
            "FCALL_RO",
            "XRANGE",
            "XREAD",
            "PFCOUNT",
            "BITCOUNT",
            "GETBIT",
            "get",
            "mGeT",
        ] {
            let info = command_info(&c(&[name, "k"]));
            assert!(info.is_read_only(), "{name}");
            assert!(!info.is_write(), "{name}");
        }
        for name in [
            "SET",
            "DEL",
            "XREADGROUP",
            "EVAL",
            "EVALSHA",
            "FCALL",
            "INCR",
            "MSET",
            "FLUSHALL",
            "BLPOP",
            "SPUBLISH",
            "PUBLISH",
            "NOSUCH",
        ] {
            assert!(!command_info(&c(&[name, "k", "1"])).is_read_only(), "{name}");
        }
    }

    #[test]
    fn fan_out_commands() {
        let fan = |args: &[&str]| command_info(&c(args)).fan_out;
        assert_eq!(fan(&["FLUSHALL"]), Some(FanOut::AllOk));
        assert_eq!(fan(&["flushdb", "ASYNC"]), Some(FanOut::AllOk));
        assert_eq!(fan(&["DBSIZE"]), Some(FanOut::Sum));
        assert_eq!(fan(&["KEYS", "*"]), Some(FanOut::Concat));
        assert_eq!(fan(&["SCAN", "0", "MATCH", "x*"]), Some(FanOut::PerNodeCursor));
        assert_eq!(fan(&["SCRIPT", "LOAD", "return 1"]), Some(FanOut::AllSame));
        assert_eq!(fan(&["script", "flush"]), Some(FanOut::AllOk));
        assert_eq!(fan(&["SCRIPT", "EXISTS", "a", "b"]), Some(FanOut::And));
        assert_eq!(fan(&["FUNCTION", "LOAD", "#!lua name=x"]), Some(FanOut::AllSame));
        assert_eq!(fan(&["FUNCTION", "FLUSH"]), Some(FanOut::AllOk));
        assert_eq!(fan(&["CONFIG", "SET", "maxmemory", "1"]), Some(FanOut::AllOk));
        assert_eq!(fan(&["CONFIG", "GET", "maxmemory"]), None);
        assert_eq!(fan(&["SCRIPT", "KILL"]), None);
        assert_eq!(fan(&["PING"]), None);
        assert_eq!(fan(&["GET", "k"]), None);
        // Fan-out commands have no keys: "*" is a pattern, not a key.
        assert_eq!(keys_of(&["KEYS", "*"]), Vec::<String>::new());
        assert_eq!(keys_of(&["SCRIPT", "LOAD", "return 1"]), Vec::<String>::new());
    }

    #[test]
    fn keyless_and_pubsub() {
        for name in ["PING", "INFO", "SUBSCRIBE", "CLUSTER", "CLIENT", "MULTI", "PUBLISH", "WAIT"] {
            let command = c(&[name, "x", "y"]);
            assert!(command_info(&command).is_keyless(), "{name}");
            assert_eq!(slot_of(&command).unwrap(), None, "{name}");
        }
        assert!(command_info(&c(&["SUBSCRIBE", "ch"])).is_pubsub());
        assert!(command_info(&c(&["psubscribe", "ch*"])).is_pubsub());
        let ssub = c(&["SSUBSCRIBE", "{a}1", "{a}2"]);
        assert!(command_info(&ssub).is_pubsub());
        assert_eq!(slot_of(&ssub).unwrap(), Some(key_slot(b"a")));
        assert_eq!(slot_of(&c(&["SPUBLISH", "ch", "msg"])).unwrap(), Some(key_slot(b"ch")));
        assert!(!command_info(&c(&["PUBLISH", "ch", "m"])).is_pubsub());
    }

    #[test]
    fn blocking_mark_on_the_command_is_kept() {
        let command = c(&["MODULE.WAIT", "k"]).blocking();
        let info = command_info(&command);
        assert!(info.is_blocking() && info.is_unknown());
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

    mod props {
        use proptest::prelude::*;

        use super::*;

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "GET",
                    "MGET",
                    "MSET",
                    "EVAL",
                    "ZUNIONSTORE",
                    "ZUNION",
                    "BLMPOP",
                    "XREAD",
                    "XREADGROUP",
                    "BLPOP",
                    "RENAME",
                    "OBJECT",
                    "MEMORY",
                    "XINFO",
                    "SCRIPT",
                    "BITOP",
                    "PING",
                    "JSON.GET",
                ])
                .prop_map(String::from),
                "[A-Za-z_.]{0,30}",
            ]
        }

        fn arg() -> impl Strategy<Value = String> {
            prop_oneof![
                "[0-9]{1,3}",
                "-?[0-9]{1,22}",
                prop::sample::select(vec![
                    "STREAMS", "COUNT", "BLOCK", "GROUP", "NOACK", "ENCODING", "USAGE", "LOAD"
                ])
                .prop_map(String::from),
                ".{0,8}",
            ]
        }

        proptest! {
            /// Any argument list: no panic, and every key is one of the arguments
            /// (never the name), in argument order.
            #[test]
            fn keys_are_arguments(name in name(), args in prop::collection::vec(arg(), 0..12)) {
                let command = cmd(&name).args_from(args.iter());
                let found: Vec<&[u8]> = keys(&command).collect();
                let mut rest = args.iter().map(|a| a.as_bytes());
                for key in &found {
                    prop_assert!(rest.any(|a| a == *key), "key {:?} out of order or not an argument", key);
                }
                let _ = slot_of(&command);
                let _ = command_info(&command);
            }
        }
    }

    #[test]
    fn stateful_commands_are_flagged() {
        for args in [
            &["SUBSCRIBE", "ch"][..],
            &["psubscribe", "p*"],
            &["SSUBSCRIBE", "ch"],
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE"],
            &["SUNSUBSCRIBE", "ch"],
            &["MULTI"],
            &["EXEC"],
            &["DISCARD"],
            &["WATCH", "k"],
            &["UNWATCH"],
            &["CLIENT", "REPLY", "OFF"],
            &["client", "tracking", "on"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "CAPA", "redirect"],
            &["MONITOR"],
            &["RESET"],
            &["SELECT", "1"],
            &["HELLO", "2"],
            &["AUTH", "pw"],
            &["QUIT"],
            &["SYNC"],
            &["PSYNC", "?", "-1"],
            &["READONLY"],
            &["READWRITE"],
            &["ASKING"],
            &["SCRIPT", "DEBUG", "YES"],
        ] {
            let command = c(args);
            assert!(command_info(&command).is_stateful(), "{args:?}");
            assert!(matches!(check_shared(&command), Err(Error::NotOnSharedConnection { .. })), "{args:?}");
        }
        for args in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["CLIENT", "ID"],
            &["CLIENT", "KILL", "ID", "1"],
            &["CLIENT", "SETNAME", "x"],
            &["CLIENT", "LIST"],
            &["CLIENT"],
            &["SCRIPT", "LOAD", "return 1"],
            &["PUBLISH", "ch", "m"],
            &["SPUBLISH", "ch", "m"],
            &["BLPOP", "l", "0"],
            &["EVAL", "return 1", "0"],
            &["HSET", "h", "f", "v"],
            &["CLUSTER", "SLOTS"],
            &["PING"],
            &["NOSUCH"],
        ] {
            let command = c(args);
            assert!(!command_info(&command).is_stateful(), "{args:?}");
            assert!(check_shared(&command).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn refusals_name_the_command_and_the_api() {
        let refused = |args: &[&str]| match check_shared(&c(args)) {
            Err(Error::NotOnSharedConnection { command, use_instead }) => (command.to_string(), use_instead),
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(refused(&["subscribe", "ch"]), ("SUBSCRIBE".into(), UseInstead::Subscriber));
        assert_eq!(refused(&["SUNSUBSCRIBE"]), ("SUNSUBSCRIBE".into(), UseInstead::Subscriber));
        assert_eq!(refused(&["multi"]), ("MULTI".into(), UseInstead::Transaction));
        assert_eq!(refused(&["EXEC"]), ("EXEC".into(), UseInstead::Transaction));
        assert_eq!(refused(&["WATCH", "k"]), ("WATCH".into(), UseInstead::Exclusive));
        assert_eq!(refused(&["SELECT", "2"]), ("SELECT".into(), UseInstead::ConnectOptions));
        assert_eq!(refused(&["HELLO", "3"]), ("HELLO".into(), UseInstead::ConnectOptions));
        assert_eq!(refused(&["client", "reply", "off"]), ("CLIENT REPLY".into(), UseInstead::Exclusive));
        assert_eq!(refused(&["SCRIPT", "debug", "sync"]), ("SCRIPT DEBUG".into(), UseInstead::Exclusive));
        assert_eq!(refused(&["MONITOR"]), ("MONITOR".into(), UseInstead::Exclusive));
        let text = check_shared(&c(&["SUBSCRIBE", "ch"])).unwrap_err().to_string();
        assert!(text.contains("SUBSCRIBE") && text.contains("Subscriber"), "{text}");
    }

    #[test]
    fn flags_set_operations() {
        let f = Flags::READ_ONLY | Flags::BLOCKING;
        assert!(f.contains(Flags::READ_ONLY) && f.contains(Flags::BLOCKING));
        assert!(!f.contains(Flags::WRITE));
        assert!(f.contains(Flags::NONE));
        assert_eq!(Flags::default(), Flags::NONE);
    }
}
