//! The typed scripting, functions, publishing and server commands, one
//! suite run against standalone RESP2, standalone RESP3 and the 6-node
//! cluster (see `support::typed`). Every method is called and its reply
//! checked; where the cluster answers differently (a random primary, a
//! fan-out, per-node pub/sub counts) the test checks that answer.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redwire::client::Script;
use redwire::commands::*;
use redwire::Error;
use support::typed::Env;
use support::Reply;

const NO_KEYS: &[&str] = &[];

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn scripts(env: Env) {
    let c = &env.client;
    let k = env.key("k");
    c.set(&k, "stored").await.unwrap();
    let sum: i64 = c.eval("return tonumber(ARGV[1]) + 1", NO_KEYS, &["41"]).await.unwrap();
    assert_eq!(sum, 42);
    let got: Option<Bytes> = c.eval("return redis.call('GET', KEYS[1])", &[&k], NO_KEYS).await.unwrap();
    assert_eq!(got, Some(b("stored")));
    let got: String = c.eval_ro("return redis.call('GET', KEYS[1])", &[&k], NO_KEYS).await.unwrap();
    assert_eq!(got, "stored");
    let write = c.eval_ro::<(), _, _>("return redis.call('SET', KEYS[1], 'x')", &[&k], NO_KEYS).await;
    assert!(matches!(write, Err(Error::Server(_))), "EVAL_RO refuses a write: {write:?}");
    let failing = c.eval::<i64, _, _>("return redis.call('INCR', KEYS[1])", &[&k], NO_KEYS).await;
    assert!(matches!(failing, Err(Error::Server(_))), "a script error: {failing:?}");

    let source = "return {KEYS[1], ARGV[1]}";
    let sha = c.script_load(source).await.unwrap();
    assert_eq!(sha, Script::new(source).sha());
    let missing = "0".repeat(40);
    assert_eq!(c.script_exists(&[sha.as_str(), missing.as_str()]).await.unwrap(), vec![true, false]);
    let pair: (String, String) = c.evalsha(&sha, &[&k], &["arg"]).await.unwrap();
    assert_eq!(pair, (k.clone(), "arg".to_string()));
    let pair: Vec<String> = c.evalsha_ro(&sha, &[&k], &["ro"]).await.unwrap();
    assert_eq!(pair, vec![k.clone(), "ro".to_string()]);
    let unknown = c.evalsha::<(), _, _>(&missing, NO_KEYS, NO_KEYS).await;
    assert!(
        matches!(&unknown, Err(Error::Server(e)) if *e.kind() == redwire::ServerErrorKind::NoScript),
        "{unknown:?}"
    );

    // A script no server has seen: EVALSHA answers NOSCRIPT, EVAL runs it.
    let fresh = Script::new(&format!("-- {k}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"));
    let n = env.key("n");
    assert_eq!(c.run_script::<i64, _, _>(&fresh, &[&n], &[5]).await.unwrap(), 5);
    assert_eq!(c.run_script::<i64, _, _>(&fresh, &[&n], &[2]).await.unwrap(), 7);
    // EVAL cached it on the node of `n` only: on the cluster SCRIPT EXISTS
    // is true only when every primary has it.
    let everywhere = c.script_exists(&[fresh.sha()]).await.unwrap();
    assert_eq!(everywhere, vec![!env.is_cluster()]);
}

/// Exclusive: `SCRIPT FLUSH` would break the other tests' scripts.
async fn functions_and_script_flush(env: Env) {
    let c = &env.client;
    let lib = format!("typed_{}", env.topology.name());
    let code = format!(
        "#!lua name={lib}\n\
         redis.register_function{{function_name='{lib}_echo', callback=function(keys, args) return args[1] end, flags={{'no-writes'}}}}\n\
         redis.register_function('{lib}_set', function(keys, args) redis.call('SET', keys[1], args[1]); return redis.call('GET', keys[1]) end)"
    );
    let _ = c.function_delete(&lib).await; // left over from an aborted run
    assert_eq!(c.function_load(&code, false).await.unwrap(), lib);
    assert!(matches!(c.function_load(&code, false).await, Err(Error::Server(_))), "the library exists");
    assert_eq!(c.function_load(&code, true).await.unwrap(), lib);

    let listed = c.function_list(Some(&lib)).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, lib);
    assert_eq!(listed[0].engine.to_ascii_uppercase(), "LUA");
    let mut functions = listed[0].functions.clone();
    functions.sort();
    assert_eq!(functions, vec![format!("{lib}_echo"), format!("{lib}_set")]);

    let k = env.key("f");
    let echoed: String = c.fcall_ro(&format!("{lib}_echo"), &[&k], &["hi"]).await.unwrap();
    assert_eq!(echoed, "hi");
    let echoed: String = c.fcall(&format!("{lib}_echo"), &[&k], &["again"]).await.unwrap();
    assert_eq!(echoed, "again");
    let set: String = c.fcall(&format!("{lib}_set"), &[&k], &["written"]).await.unwrap();
    assert_eq!(set, "written");
    assert_eq!(c.get(&k).await.unwrap(), Some(b("written")));
    let ro = c.fcall_ro::<String, _, _>(&format!("{lib}_set"), &[&k], &["x"]).await;
    assert!(matches!(ro, Err(Error::Server(_))), "FCALL_RO of a writing function: {ro:?}");

    c.function_delete(&lib).await.unwrap();
    assert!(c.function_list(Some(&lib)).await.unwrap().is_empty());
    let gone = c.fcall::<String, _, _>(&format!("{lib}_echo"), &[&k], &["x"]).await;
    assert!(matches!(gone, Err(Error::Server(_))), "{gone:?}");
    assert!(matches!(c.function_delete(&lib).await, Err(Error::Server(_))));

    let sha = c.script_load("return 'flushed?'").await.unwrap();
    assert_eq!(c.script_exists(&[&sha]).await.unwrap(), vec![true]);
    c.script_flush().await.unwrap();
    assert_eq!(c.script_exists(&[&sha]).await.unwrap(), vec![false], "gone from every primary");
}

fn message_payload(reply: Reply) -> Option<Vec<u8>> {
    match reply {
        Reply::Array(items) | Reply::Push(items) => match items.last() {
            Some(Reply::Bulk(data)) => Some(data.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Exclusive: counts of subscribers and patterns are server-wide.
async fn publishing(env: Env) {
    let c = &env.client;
    let channel = env.untagged_key("chan");
    let other = env.untagged_key("quiet");
    let mut subs = env.on_every_primary(&["SUBSCRIBE", &channel]);
    // One subscriber per primary on the cluster: whichever primary receives
    // the PUBLISH counts its own one subscriber.
    assert_eq!(c.publish(&channel, "hello").await.unwrap(), 1);
    for sub in &mut subs {
        let got = sub.read_reply().expect("the message");
        assert_eq!(message_payload(got).as_deref(), Some(&b"hello"[..]), "every subscriber gets it");
    }
    assert_eq!(c.publish(&other, "nobody").await.unwrap(), 0);

    let channels = c.pubsub_channels(Some(&channel)).await.unwrap();
    assert_eq!(channels, vec![b(&channel)]);
    assert!(c.pubsub_channels(None).await.unwrap().contains(&b(&channel)));
    let counts = c.pubsub_numsub(&[&channel, &other]).await.unwrap();
    assert_eq!(counts, vec![(b(&channel), 1), (b(&other), 0)]);

    assert_eq!(c.pubsub_numpat().await.unwrap(), 0);
    let pattern = format!("{channel}.*");
    let _psubs = env.on_every_primary(&["PSUBSCRIBE", &pattern]);
    assert_eq!(c.pubsub_numpat().await.unwrap(), 1);

    let shard = env.key("shard");
    let mut ssub = env.on_node_of(&shard, &["SSUBSCRIBE", &shard]);
    assert_eq!(c.spublish(&shard, "sharded").await.unwrap(), 1);
    assert_eq!(
        message_payload(ssub.read_reply().expect("the shard message")).as_deref(),
        Some(&b"sharded"[..])
    );
    // On the cluster PUBSUB asks a random primary, and only the shard's own
    // primary knows the shard channel.
    let mut seen = false;
    for _ in 0..if env.is_cluster() { 60 } else { 1 } {
        let listed = c.pubsub_shardchannels(None).await.unwrap();
        assert!(listed.is_empty() || listed == vec![b(&shard)], "{listed:?}");
        if !listed.is_empty() {
            seen = true;
            break;
        }
    }
    assert!(seen, "PUBSUB SHARDCHANNELS never listed {shard}");
    assert!(c.pubsub_shardchannels(Some("no-such-*")).await.unwrap().is_empty());
}

async fn server_basics(env: Env) {
    let c = &env.client;
    c.ping().await.unwrap();
    assert_eq!(c.echo("hello").await.unwrap(), b("hello"));
    let server = c.info(Some("server")).await.unwrap();
    assert!(server.contains("valkey_version:") || server.contains("redis_version:"), "{server}");
    assert!(!server.contains("# Clients"), "one section only");
    assert!(c.info(None).await.unwrap().contains("# Clients"));

    let id = c.client_id().await.unwrap();
    assert!(id > 0);
    if !env.is_cluster() {
        assert_eq!(c.client_id().await.unwrap(), id, "the same shared connection");
    }
    assert!(matches!(c.client_setname("has space").await, Err(Error::Server(_))));
    let name = format!("typed-{}", env.topology.name());
    c.client_setname(&name).await.unwrap();
    // On the cluster the name is on one random primary's connection.
    let mut seen = false;
    for _ in 0..if env.is_cluster() { 60 } else { 1 } {
        match c.client_getname().await.unwrap() {
            Some(n) => {
                assert_eq!(n, name);
                seen = true;
                break;
            }
            None => assert!(env.is_cluster(), "the shared connection is named"),
        }
    }
    assert!(seen, "CLIENT GETNAME never reached the named connection");

    let server_time = c.time().await.unwrap();
    let skew = match server_time.duration_since(SystemTime::now()) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    assert!(skew < Duration::from_secs(60), "server clock {server_time:?}");
    let saved = c.lastsave().await.unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(saved > 0 && saved <= now + 60, "LASTSAVE {saved}");

    let k = env.key("mem");
    c.set(&k, "x".repeat(1000)).await.unwrap();
    assert!(c.memory_usage(&k).await.unwrap().is_some_and(|n| n >= 1000));
    assert_eq!(c.memory_usage(env.key("none")).await.unwrap(), None);

    // Standalone: no replicas, WAIT answers 0 at once. Cluster: WAIT runs on
    // a pooled connection of a random primary, which made no writes, so its
    // one in-sync replica has acknowledged everything.
    if env.is_cluster() {
        assert_eq!(c.wait(1, 5000).await.unwrap(), 1);
    } else {
        assert_eq!(c.wait(0, 100).await.unwrap(), 0);
    }
}

/// Exclusive: empties the keyspace and changes a setting.
async fn server_keyspace_and_config(env: Env) {
    let c = &env.client;
    c.flushdb(FlushMode::Sync).await.unwrap();
    assert_eq!(c.dbsize().await.unwrap(), 0);
    for i in 0..9 {
        c.set(env.untagged_key(&format!("k{i}")), i).await.unwrap();
    }
    assert_eq!(c.dbsize().await.unwrap(), 9, "summed over the primaries on the cluster");
    c.flushdb(FlushMode::Async).await.unwrap();
    assert_eq!(c.dbsize().await.unwrap(), 0);
    c.set(env.untagged_key("a"), 1).await.unwrap();
    c.flushdb(FlushMode::Default).await.unwrap();
    assert_eq!(c.dbsize().await.unwrap(), 0);
    c.set(env.untagged_key("b"), 1).await.unwrap();
    c.flushall(FlushMode::Async).await.unwrap();
    assert_eq!(c.dbsize().await.unwrap(), 0);

    let before = c.config_get("maxmemory-samples").await.unwrap();
    let original = before.get("maxmemory-samples").cloned().expect("the parameter");
    c.config_set("maxmemory-samples", 7).await.unwrap();
    // CONFIG GET asks one random primary; CONFIG SET reached every one.
    for _ in 0..if env.is_cluster() { 10 } else { 1 } {
        let now = c.config_get("maxmemory-samples").await.unwrap();
        assert_eq!(now.get("maxmemory-samples").map(String::as_str), Some("7"));
    }
    let several = c.config_get("maxmemory-*").await.unwrap();
    assert!(several.len() > 1 && several.contains_key("maxmemory-policy"), "{several:?}");
    assert!(matches!(c.config_set("no-such-parameter", 1).await, Err(Error::Server(_))));
    c.config_set("maxmemory-samples", &original).await.unwrap();
    assert_eq!(c.config_get("maxmemory-samples").await.unwrap().get("maxmemory-samples"), Some(&original));
}

typed_suite!(
    scripts,
    server_basics;
    exclusive: functions_and_script_flush, publishing, server_keyspace_and_config,
);
