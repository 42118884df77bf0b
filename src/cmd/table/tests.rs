//! The command table's unit tests: key positions, flags, fan-out, split kinds, refusals.

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
    }
    assert!(command_info(&c(&["SUBSCRIBE", "ch"])).is_pubsub());
    assert!(command_info(&c(&["psubscribe", "ch*"])).is_pubsub());
    assert!(command_info(&c(&["SSUBSCRIBE", "{a}1", "{a}2"])).is_pubsub());
    assert_eq!(keys_of(&["SSUBSCRIBE", "{a}1", "{a}2"]), ["{a}1", "{a}2"]);
    assert_eq!(keys_of(&["SPUBLISH", "ch", "msg"]), ["ch"]);
    assert!(!command_info(&c(&["PUBLISH", "ch", "m"])).is_pubsub());
}

#[test]
fn blocking_mark_on_the_command_is_kept() {
    let command = c(&["MODULE.WAIT", "k"]).blocking();
    let info = command_info(&command);
    assert!(info.is_blocking() && info.is_unknown());
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

#[test]
fn split_kinds_are_in_the_table() {
    let split = |args: &[&str]| command_info(&c(args)).split;
    assert_eq!(split(&["MGET", "a", "b"]), Some(SplitKind::Mget));
    assert_eq!(split(&["mset", "a", "1"]), Some(SplitKind::Mset));
    for name in ["DEL", "unlink", "EXISTS", "TOUCH"] {
        assert_eq!(split(&[name, "a"]), Some(SplitKind::Count), "{name}");
    }
    for name in ["MSETNX", "SINTER", "RENAME", "EVAL", "GET", "PING", "SUNIONSTORE"] {
        assert_eq!(split(&[name, "a", "b"]), None, "{name}");
    }
}

#[test]
fn retry_safety_is_read_only_or_marked() {
    let get = c(&["GET", "k"]);
    assert!(is_retry_safe(&get, &command_info(&get)));
    let incr = c(&["INCR", "k"]);
    assert!(!is_retry_safe(&incr, &command_info(&incr)));
    let marked = c(&["INCR", "k"]).idempotent();
    assert!(is_retry_safe(&marked, &command_info(&marked)));
}
