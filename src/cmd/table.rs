//! The command table: what a command is, for routing, retrying and refusing.
//!
//! Lives here: [`command_info`] (one `match` on the upper-cased name, no
//! allocation) and what it returns, [`CommandInfo`]: where the keys are
//! ([`KeySpec`]), the [`Flags`] (read-only, write, blocking, pub/sub,
//! stateful, unknown), the [`FanOut`] of keyless commands that must reach
//! every primary and the [`SplitKind`] of multi-key commands that may be split
//! by slot; the decisions made from it alone: [`keys`], [`check_shared`] /
//! [`refuse_stateful`] (commands refused on a shared connection) and
//! [`is_retry_safe`]. Not here: slots and nodes (`route`), or sending (`conn`).
//!
//! The table sits in `cmd` so that both the connection layer (which commands
//! are safe to resend) and the router (where they go) read the same one
//! without the lower layer importing the upper.
//!
//! Commands the table does not know are treated as "key at index 1, if any"
//! and flagged [`Flags::UNKNOWN`]: module commands (`JSON.GET key ...`) mostly
//! follow that shape, and a keyless one goes to any primary.
//!
//! Pure: no async runtime, no sockets, no clock.

use std::ops::BitOr;

use super::keyspec::scan_stream_options;
use super::{Cmd, KeySpec};
use crate::error::{Error, UseInstead};

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

/// How the replies of a keyless command sent to every primary become one
/// reply (the merging itself is `route::merge_fan_out`).
///
/// In every policy an error reply from any node is the result (the first one,
/// in node order): a half-applied FLUSHALL must not look like success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FanOut {
    /// Every node must reply `OK`; the merged reply is `OK` (FLUSHALL,
    /// FLUSHDB, SCRIPT FLUSH, FUNCTION FLUSH/DELETE/RESTORE, CONFIG SET).
    AllOk,
    /// Every node must reply the same value, which is the merged reply
    /// (SCRIPT LOAD: the SHA1; FUNCTION LOAD: the library name). Different
    /// values mean the nodes disagree, which is an error.
    AllSame,
    /// Integer replies are added up (DBSIZE).
    Sum,
    /// Array replies are concatenated in node order (KEYS).
    Concat,
    /// Each primary is scanned with its own cursor (SCAN): replies cannot be
    /// merged into one cursor. The merge returns them as one array in node
    /// order, each still `[cursor, keys]`; the IO router keeps one cursor per
    /// node and drives the scan.
    PerNodeCursor,
    /// Arrays of 0/1 are combined element by element with a logical AND
    /// (SCRIPT EXISTS: a script exists only if every primary has it).
    And,
}

/// How a multi-key command whose keys span slots is split into one command
/// per slot, and how the parts' replies become the caller's (the splitting
/// and merging themselves are `route::split`).
///
/// A split command is not atomic: an MSET split in two parts can apply one
/// part and fail the other. Commands whose meaning depends on atomicity
/// (MSETNX, RENAME, EVAL, SINTER ...) have no split kind and are refused
/// with [`Error::CrossSlot`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitKind {
    /// MGET: each part's values are put back at their keys' positions.
    Mget,
    /// MSET: `OK` when every part replied `OK`, else the first error.
    Mset,
    /// DEL, UNLINK, EXISTS, TOUCH: the parts' counts are added up.
    Count,
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
    /// Set for multi-key commands that may be split by slot (MGET, MSET,
    /// DEL, UNLINK, EXISTS, TOUCH), with how to merge the parts' replies.
    pub split: Option<SplitKind>,
}

impl CommandInfo {
    const fn new(keys: KeySpec, flags: Flags) -> CommandInfo {
        CommandInfo { keys, flags, fan_out: None, split: None }
    }

    const fn to_all(policy: FanOut, flags: Flags) -> CommandInfo {
        CommandInfo { keys: KeySpec::None, flags, fan_out: Some(policy), split: None }
    }

    const fn splits(mut self, kind: SplitKind) -> CommandInfo {
        self.split = Some(kind);
        self
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
/// Never fails: an unknown command gets `KeySpec::At``(1)` and
/// `Flags::UNKNOWN`. A command built with [`Cmd::blocking`] is flagged
/// `Flags::BLOCKING` whatever its name.
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
        b"MGET" => info(ALL, R).splits(SplitKind::Mget),
        b"EXISTS" | b"TOUCH" => info(ALL, R).splits(SplitKind::Count),
        b"SINTER" | b"SUNION" | b"SDIFF" | b"PFCOUNT" => info(ALL, R),
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
        b"DEL" | b"UNLINK" => info(ALL, W).splits(SplitKind::Count),
        b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" | b"PFMERGE" => info(ALL, W),
        b"BITOP" => info(KeySpec::From { first: 2, trailing: 0 }, W),
        b"MSET" => info(EveryOther(1), W).splits(SplitKind::Mset),
        b"MSETNX" => info(EveryOther(1), W),
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

/// The keys of `cmd`, in argument order (repeated keys are repeated).
#[cfg(test)]
pub fn keys<'a>(cmd: &'a Cmd) -> impl Iterator<Item = &'a [u8]> + 'a {
    command_info(cmd).keys.keys_in(cmd)
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

/// True when `cmd` may be sent again after an attempt whose outcome is
/// unknown: it only reads, or the caller marked it idempotent.
pub fn is_retry_safe(cmd: &Cmd, info: &CommandInfo) -> bool {
    cmd.is_idempotent() || info.is_read_only()
}

#[cfg(test)]
mod tests;
