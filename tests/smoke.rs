//! Smoke tests of the test harness itself (`tests/support`): each kind of server starts, answers,
//! and is cleaned up. These use only the harness's own blocking client, never redwire, so a red
//! test here means the harness (or the machine) is broken, not the client.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::resp_client::parse_reply;
use support::{Client, Cluster, ClusterOptions, FakeServer, Reply, Role, Server, ServerOptions, Step};
use support::{TestCerts, TlsAuthClients, TlsOptions, TlsServer};

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false)
}

#[test]
fn standalone_server_answers_and_is_cleaned_up() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.cmd(&["PING"]), Reply::Simple("PONG".into()));
    c.cmd(&["SET", "greeting", "hello"]).assert_ok();
    assert_eq!(c.cmd(&["GET", "greeting"]), bulk("hello"));
    assert_eq!(c.cmd(&["GET", "missing"]), Reply::Null);
    assert_eq!(c.cmd(&["INCRBY", "n", "41"]), Reply::Integer(41));
    assert_eq!(c.cmd(&["GET", "n"]), bulk("41"));
    let info = c.info("server");
    assert!(info.iter().any(|(k, v)| k == "process_id" && *v == server.pid().to_string()), "{info:?}");
    assert!(info.iter().any(|(k, _)| k == "valkey_version"), "not a Valkey server: {info:?}");

    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_ne!(server.port(), 6379);
    let dir = server.dir().to_path_buf();
    assert!(dir.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join(".tmp/servers")), "{dir:?}");
    // The scratch dir is on the command line, where scripts/test looks for strays.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains(&dir.display().to_string()));

    let pid = server.pid();
    drop(c);
    drop(server);
    assert!(!pid_alive(pid), "server {pid} survived its drop");
    assert!(!dir.exists(), "scratch dir {dir:?} survived its drop");
}

#[test]
fn standalone_server_restarts_on_the_same_port_and_can_be_killed() {
    let server = Server::start();
    let port = server.port();
    server.client().cmd(&["SET", "k", "v"]).assert_ok();
    let first_pid = server.pid();

    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first_pid);
    assert!(!pid_alive(first_pid));
    // No persistence: the restarted server is empty.
    assert_eq!(server.client().cmd(&["GET", "k"]), Reply::Null);

    server.stop();
    assert!(!server.is_running());
    assert!(Client::connect(server.addr()).is_err(), "a stopped server still accepts connections");

    server.restart();
    assert_eq!(server.client().cmd(&["PING"]), Reply::Simple("PONG".into()));
    let pid = server.pid();
    server.kill();
    assert!(!server.is_running());
    assert!(!pid_alive(pid));
}

#[test]
fn acl_server_requires_the_right_password() {
    let server = Server::start_with(ServerOptions::new().user("alice", "s3cret/pw"));
    assert_eq!(server.username(), Some("alice"));
    assert_eq!(server.password(), Some("s3cret/pw"));
    assert_eq!(server.url(), format!("redis://alice:s3cret%2Fpw@127.0.0.1:{}", server.port()));

    let mut anon = server.raw_client();
    let reply = anon.cmd(&["GET", "k"]);
    assert_eq!(reply.error_code(), Some("NOAUTH"), "{reply:?}");

    let reply = anon.cmd(&["AUTH", "alice", "wrong"]);
    assert_eq!(reply.error_code(), Some("WRONGPASS"), "{reply:?}");
    let reply = anon.cmd(&["AUTH", "default", "s3cret/pw"]);
    assert_eq!(reply.error_code(), Some("WRONGPASS"), "the default user must be off: {reply:?}");

    anon.cmd(&["AUTH", "alice", "s3cret/pw"]).assert_ok();
    anon.cmd(&["SET", "k", "v"]).assert_ok();

    let mut c = server.client();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(c.cmd_text(&["ACL", "WHOAMI"]), "alice");
}

#[test]
fn requirepass_server_takes_the_legacy_auth() {
    let server = Server::start_with(ServerOptions::new().requirepass("pw"));
    assert_eq!(server.url(), format!("redis://:pw@127.0.0.1:{}", server.port()));
    let mut anon = server.raw_client();
    assert_eq!(anon.cmd(&["PING"]).error_code(), Some("NOAUTH"));
    assert_eq!(anon.cmd(&["AUTH", "nope"]).error_code(), Some("WRONGPASS"));
    anon.cmd(&["AUTH", "pw"]).assert_ok();
    assert_eq!(server.client().cmd_text(&["ACL", "WHOAMI"]), "default");
}

#[test]
fn extra_args_reach_the_server() {
    let server = Server::start_with(ServerOptions::new().args(["--maxmemory", "7mb"]));
    let reply = server.client().cmd(&["CONFIG", "GET", "maxmemory"]);
    assert_eq!(reply, Reply::Array(vec![bulk("maxmemory"), bulk(&(7 * 1024 * 1024).to_string())]));
}

#[test]
fn a_taken_port_is_reported_as_such_and_retried() {
    use support::process::{base_args, launch, valkey_binary, Process, StartError, READY_TIMEOUT};
    use support::scratch::ScratchDir;

    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let dir = ScratchDir::new("servers");
    let mut args = base_args(&dir);
    args.extend(["--port".to_string(), port.to_string(), "--protected-mode".into(), "no".into()]);
    let process = Process::spawn(&valkey_binary(), args, dir).unwrap();
    let result = process.wait_ready(READY_TIMEOUT, || false);
    assert!(matches!(result, Err(StartError::PortInUse(_))), "{result:?}");

    let mut tries = 0;
    let got = launch("test", || {
        tries += 1;
        if tries < 3 {
            Err(StartError::PortInUse("taken".into()))
        } else {
            Ok(tries)
        }
    });
    assert_eq!(got, 3);
}

#[test]
fn a_server_that_cannot_start_fails_with_its_log() {
    let result =
        std::panic::catch_unwind(|| Server::start_with(ServerOptions::new().arg("--no-such-directive")));
    let panic = result.err().expect("a bad directive must fail the start");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("server failed to start"), "{msg}");
    assert!(msg.contains("no-such-directive"), "the log tail is missing: {msg}");
}

#[test]
fn resp3_replies_parse() {
    let server = Server::start();
    let mut c = server.client();
    let hello = c.cmd(&["HELLO", "3"]);
    let Reply::Map(fields) = &hello else { panic!("HELLO 3 should answer a map, got {hello:?}") };
    assert!(fields.contains(&(bulk("proto"), Reply::Integer(3))), "{hello:?}");
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(c.cmd(&["HGETALL", "h"]), Reply::Map(vec![(bulk("f"), bulk("v"))]));
    assert_eq!(c.cmd(&["GET", "missing"]), Reply::Null);
    c.cmd(&["ZADD", "z", "1.5", "m"]);
    assert_eq!(c.cmd(&["ZSCORE", "z", "m"]), Reply::Double("1.5".into()));

    // The parser, on hand-written vectors.
    assert_eq!(parse_reply(b"#t\r\n").unwrap(), Reply::Boolean(true));
    assert_eq!(
        parse_reply(b"(12345678901234567890\r\n").unwrap(),
        Reply::BigNumber("12345678901234567890".into())
    );
    assert_eq!(parse_reply(b"!5\r\nOOPS!\r\n").unwrap(), Reply::Error("OOPS!".into()));
    assert_eq!(parse_reply(b"=7\r\ntxt:abc\r\n").unwrap(), Reply::Verbatim("txt".into(), b"abc".to_vec()));
    assert_eq!(parse_reply(b"|1\r\n+a\r\n:1\r\n:7\r\n").unwrap(), Reply::Integer(7));
    assert_eq!(
        parse_reply(b">2\r\n+a\r\n$-1\r\n").unwrap(),
        Reply::Push(vec![Reply::Simple("a".into()), Reply::Null])
    );
    assert_eq!(parse_reply(b"~1\r\n_\r\n").unwrap(), Reply::Array(vec![Reply::Null]));
    assert!(parse_reply(b"$3\r\nab\r\n").is_err(), "short bulk");
    assert!(parse_reply(b"?\r\n").is_err(), "unknown type");
    assert!(parse_reply(&b"*1\r\n".repeat(100)).is_err(), "too deep");
}

#[test]
fn redis_server_runs_too() {
    let server = Server::start_with(ServerOptions::new().redis());
    let mut c = server.client();
    let info = c.info("server");
    assert!(info.iter().any(|(k, v)| k == "redis_version" && v.starts_with('7')), "{info:?}");
    c.cmd(&["SET", "k", "v"]).assert_ok();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn cluster_forms_and_serves_every_slot() {
    let cluster = Cluster::start();
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.primaries().len(), 3);
    assert_eq!(cluster.replicas().len(), 3);
    assert_eq!(cluster.seed_urls().len(), 6);
    for node in cluster.nodes() {
        let mut c = node.client();
        let info = support::resp_client::parse_info(&c.cmd_text(&["CLUSTER", "INFO"]));
        let get = |k: &str| info.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("cluster_state"), Some("ok"), "{}", node.addr());
        assert_eq!(get("cluster_known_nodes"), Some("6"), "{}", node.addr());
        assert_eq!(get("cluster_slots_assigned"), Some("16384"), "{}", node.addr());
        assert_eq!(node.id().len(), 40);
        assert_eq!(node.url(), format!("redis://127.0.0.1:{}", node.port()));
    }
    for replica in cluster.replicas() {
        let mut c = replica.client();
        assert_eq!(c.info_field("replication", "master_link_status").as_deref(), Some("up"));
        assert_eq!(c.info_field("replication", "master_sync_in_progress").as_deref(), Some("0"));
    }
    for primary in cluster.primaries() {
        let replica = cluster.replica_of(primary).expect("every primary has a replica");
        assert_eq!(replica.primary_port(), Some(primary.port()));
    }

    for key in ["alpha", "beta", "gamma", "{user1}:x"] {
        let slot = cluster.slot_of(key);
        let owner = cluster.primary_for_slot(slot);
        let mut c = owner.client();
        c.cmd(&["SET", key, "value"]).assert_ok();
        assert_eq!(c.cmd(&["GET", key]), bulk("value"));
        // Any other primary redirects to the owner.
        let other = cluster.primaries().into_iter().find(|p| p.port() != owner.port()).unwrap();
        let moved = other.client().cmd(&["GET", key]);
        assert_eq!(moved, Reply::Error(format!("MOVED {slot} 127.0.0.1:{}", owner.port())));
    }
    // The slot split of `valkey-cli --cluster create`.
    assert_eq!(cluster.primary_for_slot(0).port(), cluster.node(0).port());
    assert_eq!(cluster.primary_for_slot(5460).port(), cluster.node(0).port());
    assert_eq!(cluster.primary_for_slot(5461).port(), cluster.node(1).port());
    assert_eq!(cluster.primary_for_slot(10922).port(), cluster.node(1).port());
    assert_eq!(cluster.primary_for_slot(10923).port(), cluster.node(2).port());
    assert_eq!(cluster.primary_for_slot(16383).port(), cluster.node(2).port());

    let pids: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    drop(cluster);
    for pid in pids {
        assert!(!pid_alive(pid), "cluster node {pid} survived the drop");
    }
}

#[test]
fn cluster_survives_kill_restart_and_failover() {
    let cluster = Cluster::start();
    let slot = cluster.slot_of("k");
    let owner_index =
        cluster.nodes().iter().position(|n| n.port() == cluster.primary_for_slot(slot).port()).unwrap();
    let owner = cluster.node(owner_index);
    owner.client().cmd(&["SET", "k", "before"]).assert_ok();
    let replica_port = cluster.replica_of(owner).unwrap().port();
    owner.client().cmd(&["WAIT", "1", "5000"]);

    // Kill the primary: its replica takes over.
    cluster.kill_node(owner_index);
    assert_eq!(cluster.node(owner_index).role(), Role::Down);
    cluster.wait_ok();
    let new_owner = cluster.primary_for_slot(slot);
    assert_eq!(new_owner.port(), replica_port);
    assert_eq!(new_owner.client().cmd(&["GET", "k"]), bulk("before"));

    // Bring the old primary back: nodes.conf makes it rejoin, as a replica of the new owner.
    cluster.restart_node(owner_index);
    cluster.wait_ok();
    let old = cluster.node(owner_index);
    assert_eq!(old.role(), Role::Replica);
    assert_eq!(old.primary_port(), Some(replica_port));

    // A manual failover hands the slots back.
    cluster.failover(old);
    assert_eq!(old.role(), Role::Primary);
    assert_eq!(cluster.primary_for_slot(slot).port(), old.port());
    assert_eq!(old.client().cmd(&["GET", "k"]), bulk("before"));
}

#[test]
fn acl_cluster_forms() {
    let opts = ClusterOptions {
        primaries: 1,
        replicas_per_primary: 1,
        user: Some(("bob".into(), "hunter2".into())),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start_with(opts);
    assert_eq!(cluster.nodes().len(), 2);
    let node = cluster.node(0);
    assert_eq!(node.url(), format!("redis://bob:hunter2@127.0.0.1:{}", node.port()));
    assert_eq!(Client::connect(node.addr()).unwrap().cmd(&["GET", "k"]).error_code(), Some("NOAUTH"));
    node.client().cmd(&["SET", "k", "v"]).assert_ok();
    let replica = cluster.replica_of(node).expect("the replica authenticated to its primary");
    replica.client().cmd(&["READONLY"]).assert_ok();
    assert_eq!(cluster.primary_for_slot(0).port(), node.port());
}

fn redis_cli() -> Option<&'static str> {
    ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].into_iter().find(|p| Path::new(p).exists())
}

fn redis_cli_ping(port: u16, extra: &[&Path], ca: &Path) -> String {
    let cli = redis_cli().unwrap();
    let mut cmd = Command::new(cli);
    cmd.args(["--tls", "--cacert"]).arg(ca).args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let [cert, key] = extra {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let out = cmd.arg("PING").output().expect("run redis-cli");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        .trim()
        .to_string()
}

#[test]
fn tls_redis_server_speaks_tls_only() {
    let certs = TestCerts::generate();
    let server = TlsServer::start(certs.server_cert_path(), certs.server_key_path(), certs.ca_path());
    assert_eq!(server.url(), format!("rediss://127.0.0.1:{}", server.tls_port()));

    // Plain RESP on the TLS port gets no PONG.
    let mut plain = Client::connect_timeout(server.addr(), Duration::from_secs(2)).unwrap();
    let reply = plain.call(&["PING"]);
    assert!(!matches!(reply, Ok(Reply::Simple(ref s)) if s == "PONG"), "{reply:?}");

    if redis_cli().is_some() {
        assert_eq!(redis_cli_ping(server.tls_port(), &[], &certs.ca_path()), "PONG");
    }

    let (port, pid) = (server.tls_port(), server.pid());
    server.restart();
    assert_eq!(server.tls_port(), port);
    assert_ne!(server.pid(), pid);
    if redis_cli().is_some() {
        assert_eq!(redis_cli_ping(server.tls_port(), &[], &certs.ca_path()), "PONG");
    }
}

#[test]
fn tls_server_can_require_client_certificates() {
    let certs = TestCerts::generate();
    let opts = TlsOptions::new(certs.server_cert_path(), certs.server_key_path(), certs.ca_path())
        .auth_clients(TlsAuthClients::Yes);
    let server = TlsServer::start_with(opts);
    let Some(_) = redis_cli() else { return };
    assert_ne!(redis_cli_ping(server.tls_port(), &[], &certs.ca_path()), "PONG");
    let with_cert = redis_cli_ping(
        server.tls_port(),
        &[&certs.client_cert_path(), &certs.client_key_path()],
        &certs.ca_path(),
    );
    assert_eq!(with_cert, "PONG");
}

#[test]
fn fake_server_sends_its_script() {
    let fake =
        FakeServer::start(vec![Step::expect("PING"), Step::send("+PONG\r\n"), Step::send("$3\r\nabc\r\n")]);
    let mut c = Client::connect(fake.addr()).unwrap();
    assert_eq!(c.cmd(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(c.read_reply().unwrap(), bulk("abc"));
    assert_eq!(fake.command_names(), vec!["PING"]);
    assert_eq!(fake.connections(), 1);
    assert!(fake.failures().is_empty(), "{:?}", fake.failures());
}
