//! The `redwire` binary against a real Valkey, compared byte for byte with
//! `redis-cli --no-raw` (RESP2 and RESP3 replies of every shape), and against
//! a scripted fake server for what a real one will not do: a malformed reply,
//! a close in the middle of a reply, a stall, a push frame ahead of the reply.
//! Each failure must exit non-zero promptly with exactly one line on stderr.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{FakeServer, Server, Step};

fn redwire(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(args)
        .env_remove("REDWIRE_PASSWORD")
        .output()
        .expect("run redwire")
}

fn redis_cli(args: &[&OsStr]) -> Output {
    Command::new("redis-cli").args(args).output().expect("run redis-cli (installed at /usr/bin)")
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// One comparison: a setup (run with the harness client after FLUSHALL), then
/// `command`, sent by both tools with or without RESP3.
struct Case {
    name: &'static str,
    resp3: bool,
    setup: Vec<Vec<Vec<u8>>>,
    command: Vec<Vec<u8>>,
}

fn case(name: &'static str, resp3: bool, setup: &[&[&[u8]]], command: &[&[u8]]) -> Case {
    Case {
        name,
        resp3,
        setup: setup.iter().map(|c| c.iter().map(|a| a.to_vec()).collect()).collect(),
        command: command.iter().map(|a| a.to_vec()).collect(),
    }
}

fn reset(server: &Server, setup: &[Vec<Vec<u8>>]) {
    let mut c = server.client();
    c.cmd(&["FLUSHALL"]).assert_ok();
    for command in setup {
        let reply = c.cmd(command);
        assert!(!reply.is_error(), "setup {:?}: {reply:?}", String::from_utf8_lossy(&command[0]));
    }
}

fn run_case(server: &Server, case: &Case) -> (Output, Output) {
    let port = server.port().to_string();
    let url = server.url();
    let command: Vec<&OsStr> = case.command.iter().map(|a| OsStr::from_bytes(a)).collect();

    reset(server, &case.setup);
    let mut args = vec![os("-p"), os(&port), os("--no-raw")];
    if case.resp3 {
        args.push(os("-3"));
    }
    args.extend(&command);
    let theirs = redis_cli(&args);

    reset(server, &case.setup);
    let mut args = vec![os("--url"), os(&url)];
    if case.resp3 {
        args.push(os("-3"));
    }
    args.push(os("cmd"));
    args.extend(&command);
    let ours = redwire(&args);
    (theirs, ours)
}

#[test]
fn replies_print_like_redis_cli() {
    let server = Server::start();
    let tricky: &[u8] = b"say \"hi\"\nback\\slash\ttab\x01\x7f\xff end";
    let cases = vec![
        case("SET", false, &[], &[b"SET", b"k", b"v"]),
        case("GET", false, &[&[b"SET", b"k", b"hello world"]], &[b"GET", b"k"]),
        case("GET missing", false, &[], &[b"GET", b"missing"]),
        case("GET missing RESP3", true, &[], &[b"GET", b"missing"]),
        case("INCR", false, &[&[b"SET", b"n", b"41"]], &[b"INCR", b"n"]),
        case("LPUSH", false, &[], &[b"LPUSH", b"l", b"a", b"b", b"c"]),
        case("LRANGE", false, &[&[b"RPUSH", b"l", b"a", b"b", b"c"]], &[b"LRANGE", b"l", b"0", b"-1"]),
        case(
            "LRANGE of ten (aligned indices)",
            false,
            &[&[b"RPUSH", b"l", b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"]],
            &[b"LRANGE", b"l", b"0", b"-1"],
        ),
        case("empty LRANGE", false, &[], &[b"LRANGE", b"nothing", b"0", b"-1"]),
        case("empty LRANGE RESP3", true, &[], &[b"LRANGE", b"nothing", b"0", b"-1"]),
        case("HSET", false, &[], &[b"HSET", b"h", b"f", b"v"]),
        case("HGETALL RESP3", true, &[&[b"HSET", b"h", b"f1", b"v1", b"f2", b"v2"]], &[b"HGETALL", b"h"]),
        case("HGETALL RESP2", false, &[&[b"HSET", b"h", b"f1", b"v1", b"f2", b"v2"]], &[b"HGETALL", b"h"]),
        case("empty HGETALL RESP3", true, &[], &[b"HGETALL", b"nothing"]),
        case("SADD RESP3", true, &[], &[b"SADD", b"s", b"a", b"b"]),
        case("SMEMBERS RESP3", true, &[&[b"SADD", b"s", b"a", b"b", b"c"]], &[b"SMEMBERS", b"s"]),
        case("SMEMBERS RESP2", false, &[&[b"SADD", b"s", b"a", b"b", b"c"]], &[b"SMEMBERS", b"s"]),
        case("binary value", false, &[&[b"SET", b"bin", tricky]], &[b"GET", b"bin"]),
        case("binary argument", true, &[], &[b"ECHO", tricky]),
        case("CONFIG GET RESP2", false, &[], &[b"CONFIG", b"GET", b"maxmemory*"]),
        case("CONFIG GET RESP3", true, &[], &[b"CONFIG", b"GET", b"maxmemory*"]),
        case("error reply", false, &[], &[b"NOSUCHCOMMAND", b"x"]),
        case("WRONGTYPE", true, &[&[b"SET", b"k", b"v"]], &[b"LPUSH", b"k", b"x"]),
        case("ZADD RESP3", true, &[], &[b"ZADD", b"z", b"1.5", b"a"]),
        case("ZSCORE RESP3", true, &[&[b"ZADD", b"z", b"1.5", b"a"]], &[b"ZSCORE", b"z", b"a"]),
        case("ZSCORE RESP3 large", true, &[&[b"ZADD", b"z", b"1e20", b"a"]], &[b"ZSCORE", b"z", b"a"]),
        case("ZSCORE RESP3 small", true, &[&[b"ZADD", b"z", b"2.5e-10", b"a"]], &[b"ZSCORE", b"z", b"a"]),
        case("ZSCORE RESP2", false, &[&[b"ZADD", b"z", b"1.5", b"a"]], &[b"ZSCORE", b"z", b"a"]),
        case(
            "ZRANGE WITHSCORES RESP3",
            true,
            &[&[b"ZADD", b"z", b"1", b"a", b"2.25", b"b"]],
            &[b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"],
        ),
        case("nested EVAL", false, &[], &[b"EVAL", b"return {1,{2,3}}", b"0"]),
        case("nested EVAL RESP3", true, &[], &[b"EVAL", b"return {1,{2,{'x',false}},'y'}", b"0"]),
        case("EVAL true RESP3", true, &[], &[b"EVAL", b"return true", b"0"]),
        case("ECHO", false, &[], &[b"ECHO", b"hello"]),
        case("PING", true, &[], &[b"PING"]),
        // Printed raw by redis-cli whatever the mode.
        case("INFO keyspace", false, &[&[b"SET", b"k", b"v"]], &[b"INFO", b"keyspace"]),
        case("INFO keyspace RESP3", true, &[&[b"SET", b"k", b"v"]], &[b"info", b"KEYSPACE"]),
        case("INFO of nothing", false, &[], &[b"INFO", b"nosuchsection"]),
        case("LATENCY DOCTOR", false, &[], &[b"LATENCY", b"DOCTOR"]),
        case("LATENCY DOCTOR RESP3 (verbatim)", true, &[], &[b"LATENCY", b"DOCTOR"]),
        case("MEMORY DOCTOR", true, &[], &[b"MEMORY", b"DOCTOR"]),
        case("raw error", false, &[], &[b"CLUSTER", b"INFO"]),
        case("raw error 2", false, &[], &[b"CLIENT", b"LIST", b"TYPE", b"bad"]),
        case("not raw", false, &[], &[b"CLUSTER", b"INFO", b"x"]),
    ];
    let mut mismatches = Vec::new();
    for case in &cases {
        let (theirs, ours) = run_case(&server, case);
        assert!(theirs.status.success(), "{}: redis-cli failed: {:?}", case.name, theirs);
        assert!(ours.status.success(), "{}: {}", case.name, String::from_utf8_lossy(&ours.stderr));
        assert!(ours.stderr.is_empty(), "{}: {}", case.name, String::from_utf8_lossy(&ours.stderr));
        assert!(!ours.stdout.is_empty() || theirs.stdout.is_empty(), "{}: no output", case.name);
        if theirs.stdout != ours.stdout {
            mismatches.push(format!(
                "{}:\n--- redis-cli\n{}--- redwire\n{}",
                case.name,
                String::from_utf8_lossy(&theirs.stdout),
                String::from_utf8_lossy(&ours.stdout)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn hello_prints_like_redis_cli_but_for_per_connection_fields() {
    let server = Server::start();
    // The id (and with it nothing else) differs per connection: compare the rest.
    let keep = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| {
                ["\"server\"", "\"version\"", "\"proto\"", "\"modules\"", "\"mode\""]
                    .iter()
                    .any(|f| l.contains(f))
            })
            .map(str::to_string)
            .collect()
    };
    let tail = |out: &[u8]| -> String {
        let text = String::from_utf8_lossy(out).into_owned();
        text.find("\"modules\"").map(|i| text[i..].to_string()).unwrap_or_default()
    };
    for resp3 in [false, true] {
        let hello = case("HELLO 3", resp3, &[], &[b"HELLO", b"3"]);
        let (theirs, ours) = run_case(&server, &hello);
        assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
        assert_eq!(keep(&theirs.stdout).len(), 5, "{:?}", String::from_utf8_lossy(&theirs.stdout));
        assert_eq!(keep(&theirs.stdout), keep(&ours.stdout));
        // The nested module list (after the per-connection fields) prints the same, line for line.
        assert!(!tail(&theirs.stdout).is_empty());
        assert_eq!(tail(&theirs.stdout), tail(&ours.stdout));
    }
}

/// Runs `redwire` against `server` and checks the failure contract: non-zero,
/// nothing on stdout, exactly one line on stderr, within 3 s. Gives stderr.
fn fails_cleanly(what: &str, args: &[&str]) -> String {
    let args: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
    let started = Instant::now();
    let out = redwire(&args);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what}: exited 0");
    assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
    assert!(out.stdout.is_empty(), "{what}: stdout {:?}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "{what}: stderr {stderr:?}");
    assert!(stderr.ends_with('\n'), "{what}: {stderr:?}");
    stderr
}

#[test]
fn malformed_reply_fails_cleanly() {
    let server = FakeServer::start(vec![
        Step::expect("GET"),
        Step::send(b"?what\r\n"),
        Step::stall(Duration::from_secs(10)),
    ]);
    let err = fails_cleanly("malformed", &["--url", &server.url(), "--timeout", "2s", "cmd", "GET", "k"]);
    assert!(err.contains("unknown RESP type byte 0x3f"), "{err}");
}

#[test]
fn close_mid_reply_fails_cleanly() {
    let server = FakeServer::start(vec![Step::expect("GET"), Step::send(b"$10\r\nhalf"), Step::Close]);
    let err =
        fails_cleanly("close mid-reply", &["--url", &server.url(), "--timeout", "2s", "cmd", "GET", "k"]);
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn stall_fails_cleanly_after_the_timeout() {
    let server = FakeServer::start(vec![Step::expect("GET"), Step::stall(Duration::from_secs(10))]);
    let started = Instant::now();
    let err = fails_cleanly("stall", &["--url", &server.url(), "--timeout", "500ms", "cmd", "GET", "k"]);
    assert!(started.elapsed() >= Duration::from_millis(500), "gave up before the timeout: {err}");
    assert!(err.contains("timed out") || err.contains("timeout"), "{err}");
}

#[test]
fn push_frame_before_the_reply_is_not_printed() {
    let server = FakeServer::start(vec![
        Step::expect("HELLO"),
        Step::send(b"%1\r\n+proto\r\n:3\r\n"),
        Step::expect("GET"),
        Step::send(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$7\r\npayload\r\n$5\r\nvalue\r\n"),
        Step::stall(Duration::from_secs(10)),
    ]);
    let out = redwire(&[
        os("--url"),
        os(&server.url()),
        os("-3"),
        os("--timeout"),
        os("2s"),
        os("cmd"),
        os("GET"),
        os("k"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "\"value\"\n");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_urls_name_the_problem_and_hide_the_password() {
    for (url, problem) in [
        ("redis://alice:hunter2@127.0.0.1:notaport", "port"),
        ("http://alice:hunter2@127.0.0.1", "scheme"),
        ("redis://alice:hunter2@127.0.0.1/notadb", "database"),
        ("redis://alice:hunter2@127.0.0.1#what", "fragment"),
    ] {
        let err = fails_cleanly(url, &["--url", url, "cmd", "PING"]);
        assert!(err.to_lowercase().contains(problem), "{url}: {err}");
        assert!(!err.contains("hunter2"), "{url}: the password leaked: {err}");
    }
}

#[test]
fn wrong_password_fails_cleanly_without_showing_it() {
    let server = Server::start_with(support::ServerOptions::new().requirepass("right-password"));
    let url = format!("redis://:wrong-password@127.0.0.1:{}", server.port());
    let err = fails_cleanly("wrong password", &["--url", &url, "cmd", "PING"]);
    assert!(err.contains("WRONGPASS") || err.to_lowercase().contains("auth"), "{err}");
    assert!(!err.contains("wrong-password"), "{err}");
    // And the right one works, given through the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["--url", &format!("redis://127.0.0.1:{}", server.port()), "cmd", "PING"])
        .env("REDWIRE_PASSWORD", "right-password")
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n", "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let server = Server::start();
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two new descriptors, each then owned exactly once.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let out = Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["--url", &server.url(), "cmd", "INFO"])
        .stdout(write_end)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn connection_failures_name_the_address_like_redis_cli() {
    // Ports nothing listens on (free now; nothing in these tests binds them).
    let ports = support::ports::free_ports(2);
    let (a, b) = (ports[0].to_string(), ports[1].to_string());
    let theirs = redis_cli(&[os("-h"), os("127.0.0.1"), os("-p"), os(&a), os("PING")]);
    let theirs = String::from_utf8_lossy(&theirs.stderr).into_owned();
    let refused = format!("127.0.0.1:{a}: Connection refused\n");
    assert!(theirs.ends_with(&refused), "redis-cli said {theirs:?}");
    let ours = |args: &[&str]| fails_cleanly(&args.join(" "), args);

    let url = format!("redis://alice:hunter2@127.0.0.1:{a}/2");
    for args in [
        vec!["--url", url.as_str(), "cmd", "PING"],
        vec!["--url", url.as_str(), "store", "get", "k"],
        vec!["--url", url.as_str(), "publish", "ch", "m"],
        vec!["--url", url.as_str(), "subscribe", "ch"],
        vec!["--url", url.as_str(), "bench", "--duration", "1s"],
    ] {
        let err = ours(&args);
        assert_eq!(err, format!("redwire: Could not connect to {refused}"), "{args:?}");
    }
    // Every seed named, no user name or password.
    let seeds = format!("redis://alice:hunter2@127.0.0.1:{a},redis://127.0.0.1:{b}");
    let expected =
        format!("redwire: Could not connect to 127.0.0.1:{a} or 127.0.0.1:{b}: Connection refused\n");
    for command in [&["cmd", "PING"][..], &["store", "get", "k"], &["publish", "ch", "m"]] {
        let args: Vec<&str> = ["--cluster", seeds.as_str()].iter().chain(command).copied().collect();
        assert_eq!(ours(&args), expected, "{args:?}");
    }
    let socket =
        std::env::temp_dir().join(format!("redwire-cli-nosocket-{}", std::process::id())).join("none.sock");
    let err = ours(&["--url", &format!("unix://{}", socket.display()), "cmd", "PING"]);
    assert_eq!(
        err,
        format!("redwire: Could not connect to {}: No such file or directory\n", socket.display())
    );
}

#[test]
fn a_bare_duration_is_refused_on_the_command_line_and_milliseconds_in_the_config() {
    let server = Server::start();
    let url = server.url();
    for args in [
        vec!["--url", url.as_str(), "--timeout", "5", "cmd", "PING"],
        vec!["store", "set", "k", "v", "--ttl", "5"],
        vec!["store", "lock", "k", "5"],
        vec!["bench", "--duration", "5"],
    ] {
        let out = redwire(&args.iter().map(|a| os(a)).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(err.contains("needs a unit: write 5s or 5ms"), "{args:?}: {err}");
    }
    let out = redwire(&[os("--url"), os(&url), os("--timeout"), os("5s"), os("cmd"), os("PING")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n", "{}", String::from_utf8_lossy(&out.stderr));

    // The configuration reads a bare number (JSON number or string) as milliseconds, as Stalwart does.
    let dir = std::env::temp_dir().join(format!("redwire-cli-durations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("redis.json");
    let config =
        format!(r#"{{"@type": "Redis", "url": "{url}", "timeout": 1500, "poolTimeoutCreate": "2500"}}"#);
    std::fs::write(&file, config).expect("write the config");
    let out = redwire(&[os("config"), os("check"), file.as_os_str()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(r#""timeout": "1500ms""#), "{printed}");
    assert!(printed.contains(r#""poolTimeoutCreate": "2500ms""#), "{printed}");
}
