//! The CLI's pub/sub commands against a real Valkey: `redwire subscribe`
//! prints messages like redis-cli and reports the gap around a killed
//! subscription, `redwire publish` prints the receiver count, and a missing
//! server is one line on stderr with exit code 1.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{Cluster, Server};

fn redwire(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redwire")).args(args).output().expect("run redwire")
}

/// Waits until the server counts `n` pattern subscriptions.
fn wait_for_patterns(server: &Server, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.client().cmd(&["PUBSUB", "NUMPAT"]).as_int() != Some(n) {
        assert!(Instant::now() < deadline, "the CLI never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cli_subscribe_prints_messages_and_gaps_and_publish_prints_the_count() {
    let server = Server::start();
    let url = server.url();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(["--url", &url, "subscribe", "--pattern", "--count", "2", "cli.*"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start redwire subscribe");
    wait_for_patterns(&server, 1);
    let out = redwire(&["--url", &url, "publish", "cli.one", "hello"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "(integer) 1\n");
    let out = redwire(&["--url", &url, "publish", "--sharded", "elsewhere", "x"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "(integer) 0\n");

    assert_eq!(server.client().cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).as_int(), Some(1));
    std::thread::sleep(Duration::from_millis(100));
    wait_for_patterns(&server, 1);
    assert_eq!(
        String::from_utf8_lossy(&redwire(&["--url", &url, "publish", "cli.two", "again"]).stdout),
        "(integer) 1\n"
    );

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx.recv_timeout(Duration::from_secs(10)).expect("subscribe exits after 2 messages").unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let expected_start =
        "1) \"pmessage\"\n2) \"cli.*\"\n3) \"cli.one\"\n4) \"hello\"\n-- interrupted: pattern cli.* (";
    assert!(text.starts_with(expected_start), "{text}");
    assert!(
        text.contains("\n-- resubscribed: pattern cli.*; messages in between may have been missed\n"),
        "{text}"
    );
    assert!(text.ends_with("1) \"pmessage\"\n2) \"cli.*\"\n3) \"cli.two\"\n4) \"again\"\n"), "{text}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Reading messages"));

    // A server that is not there: one line on stderr, exit code 1.
    drop(server);
    let out = redwire(&["--url", &url, "--timeout", "1s", "publish", "c", "m"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("redwire: "));
}

#[test]
fn cli_publishes_a_sharded_message_on_the_owner_of_its_slot() {
    let cluster = Cluster::start();
    let seeds = cluster.seed_urls().join(",");
    // One channel per primary: a publish sent anywhere else would be answered MOVED.
    for index in 0..3 {
        let port = cluster.node(index).port();
        let channel = (0..10_000)
            .map(|i| format!("{{cli-{i}}}"))
            .find(|name| cluster.primary_for_slot(redwire::key_slot(name.as_bytes())).port() == port)
            .expect("a channel name on this node");
        let out = redwire(&["--cluster", &seeds, "publish", "--sharded", &channel, "cli"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "(integer) 0\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
