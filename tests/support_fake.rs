//! Tests of the scripted fake server (`tests/support/fake.rs`) and of the harness's port
//! picking: each step does what it says, what the client sent is recorded, unmet expectations are
//! reported, and dropping the server never hangs.

mod support;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::fake::parse_command;
use support::resp_client::encode_command;
use support::{Client, FakeServer, Reply, Step};

fn connect(fake: &FakeServer) -> TcpStream {
    let s = TcpStream::connect(fake.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn expect_then_send_then_close() {
    let fake = FakeServer::start(vec![Step::expect("get"), Step::send("$1\r\nx\r\n"), Step::Close]);
    let mut s = connect(&fake);
    s.write_all(&encode_command(&["GET", "key"])).unwrap();
    assert_eq!(read_all(&mut s), b"$1\r\nx\r\n");
    assert_eq!(fake.commands(), vec![vec![b"GET".to_vec(), b"key".to_vec()]]);
    assert!(fake.failures().is_empty(), "{:?}", fake.failures());
}

#[test]
fn a_command_split_into_single_bytes_is_still_one_command() {
    let fake = FakeServer::start(vec![Step::expect("SET"), Step::send("+OK\r\n")]);
    let mut s = connect(&fake);
    s.set_nodelay(true).unwrap();
    for b in encode_command(&["SET", "k", "v\r\nwith crlf"]) {
        s.write_all(&[b]).unwrap();
    }
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+OK\r\n");
    assert_eq!(fake.commands(), vec![vec![b"SET".to_vec(), b"k".to_vec(), b"v\r\nwith crlf".to_vec()]]);
}

#[test]
fn a_wrong_command_is_a_failure_and_closes_the_connection() {
    let fake = FakeServer::start(vec![Step::expect("PING"), Step::send("+PONG\r\n")]);
    let mut s = connect(&fake);
    s.write_all(&encode_command(&["ECHO", "hi"])).unwrap();
    assert_eq!(read_all(&mut s), b"", "nothing is sent after a failed expectation");
    let failures = fake.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("expected PING, got ECHO"), "{failures:?}");
}

#[test]
fn closing_before_the_expected_command_is_a_failure() {
    let fake = FakeServer::start(vec![Step::expect("PING")]);
    drop(connect(&fake));
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.failures().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(fake.failures()[0].contains("closed before"), "{:?}", fake.failures());
}

#[test]
fn send_slowly_dribbles_bytes() {
    let fake = FakeServer::start(vec![Step::send_slowly("+OK\r\n", Duration::from_millis(40)), Step::Close]);
    let mut s = connect(&fake);
    let start = Instant::now();
    let mut first = [0u8; 1];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"+");
    let mut rest = read_all(&mut s);
    rest.insert(0, first[0]);
    assert_eq!(rest, b"+OK\r\n");
    // Four sleeps of 40 ms happen between the first and the last byte.
    assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
}

#[test]
fn stall_delays_the_next_step() {
    let fake = FakeServer::start(vec![Step::stall(Duration::from_millis(300)), Step::send("+late\r\n")]);
    let mut c = Client::connect(fake.addr()).unwrap();
    let start = Instant::now();
    assert_eq!(c.read_reply().unwrap(), Reply::Simple("late".into()));
    assert!(start.elapsed() >= Duration::from_millis(250), "{:?}", start.elapsed());
}

#[test]
fn a_stall_longer_than_the_read_timeout_times_the_client_out() {
    let fake = FakeServer::start(vec![Step::expect_any(), Step::stall(Duration::from_secs(60))]);
    let mut c = Client::connect_timeout(fake.addr(), Duration::from_millis(200)).unwrap();
    let err = c.call(&["PING"]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");
    // Dropping the fake interrupts the 60 s stall.
    let start = Instant::now();
    drop(fake);
    assert!(start.elapsed() < Duration::from_secs(5), "drop took {:?}", start.elapsed());
}

#[test]
fn shutdown_write_gives_eof_but_still_reads() {
    let fake = FakeServer::start(vec![Step::send("+bye\r\n"), Step::ShutdownWrite]);
    let mut s = connect(&fake);
    assert_eq!(read_all(&mut s), b"+bye\r\n");
    // The server's read half is still open: what we send now is recorded.
    s.write_all(&encode_command(&["AFTER", "eof"])).unwrap();
    assert!(fake.wait_for_commands(1, Duration::from_secs(5)));
    assert_eq!(fake.command_names(), vec!["AFTER"]);
}

#[test]
fn respond_to_each_answers_every_command_until_the_client_closes() {
    let fake = FakeServer::start(vec![Step::respond_to_each(|args| {
        let last = args.last().cloned().unwrap_or_default();
        let mut out = format!("${}\r\n", last.len()).into_bytes();
        out.extend_from_slice(&last);
        out.extend_from_slice(b"\r\n");
        out
    })]);
    let mut c = Client::connect(fake.addr()).unwrap();
    for i in 0..50 {
        let v = format!("value-{i}");
        assert_eq!(c.cmd(&["ECHO", v.as_str()]), Reply::Bulk(v.into_bytes()));
    }
    // Pipelined: all sent first, then all read.
    for i in 0..20 {
        c.send(&["ECHO", &i.to_string()]).unwrap();
    }
    for i in 0..20 {
        assert_eq!(c.read_reply().unwrap(), Reply::Bulk(i.to_string().into_bytes()));
    }
    assert_eq!(fake.commands().len(), 70);
}

#[test]
fn inline_commands_are_understood() {
    let fake = FakeServer::start(vec![Step::expect("PING"), Step::send("+PONG\r\n")]);
    let mut s = connect(&fake);
    s.write_all(b"\r\nPING  hello\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    assert_eq!(fake.commands(), vec![vec![b"PING".to_vec(), b"hello".to_vec()]]);
}

#[test]
fn every_connection_runs_the_script_and_is_counted() {
    let fake = FakeServer::start(vec![Step::expect("HELLO"), Step::send("+hi\r\n")]);
    let clients: Vec<Client> = (0..5)
        .map(|_| {
            let mut c = Client::connect(fake.addr()).unwrap();
            assert_eq!(c.cmd(&["HELLO"]), Reply::Simple("hi".into()));
            c
        })
        .collect();
    assert_eq!(fake.connections(), 5);
    let conns: HashSet<usize> = fake.received().iter().map(|r| r.connection).collect();
    assert_eq!(conns, (0..5).collect());
    drop(clients);
}

#[test]
fn per_connection_scripts_run_in_order() {
    let fake = FakeServer::start_per_connection(vec![
        vec![Step::send("-ERR first\r\n"), Step::Close],
        vec![Step::send("+second\r\n")],
    ]);
    let mut first = Client::connect(fake.addr()).unwrap();
    assert_eq!(first.read_reply().unwrap(), Reply::Error("ERR first".into()));
    assert!(first.read_reply().is_err(), "closed after the first script");
    let mut second = Client::connect(fake.addr()).unwrap();
    assert_eq!(second.read_reply().unwrap(), Reply::Simple("second".into()));
    // Beyond the list: closed at once.
    let mut third = connect(&fake);
    assert_eq!(read_all(&mut third), b"");
    assert_eq!(fake.connections(), 3);
}

#[test]
fn drop_does_not_hang_with_open_idle_or_reading_clients() {
    let fake = FakeServer::start(vec![Step::expect("NEVER")]);
    let mut idle = connect(&fake);
    let mut half = connect(&fake);
    half.write_all(b"*2\r\n$5\r\nNEV").unwrap(); // an incomplete command: the fake waits for more
    assert!(fake.wait_for_connections(2, Duration::from_secs(5)));
    let start = Instant::now();
    drop(fake);
    assert!(start.elapsed() < Duration::from_secs(5), "drop took {:?}", start.elapsed());
    // Both connections were closed by the drop.
    assert_eq!(read_all(&mut idle), b"");
    assert_eq!(read_all(&mut half), b"");
    let _ = half.shutdown(Shutdown::Both);
}

#[test]
fn a_big_reply_to_a_client_that_never_reads_does_not_block_drop() {
    let fake = FakeServer::start(vec![Step::Send(vec![b'x'; 64 * 1024 * 1024])]);
    let _s = connect(&fake);
    assert!(fake.wait_for_connections(1, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    drop(fake);
    assert!(start.elapsed() < Duration::from_secs(5), "drop took {:?}", start.elapsed());
}

#[test]
fn the_command_parser_waits_for_complete_commands_and_rejects_garbage() {
    let whole = encode_command(&["SET", "k", "v"]);
    for cut in 0..whole.len() {
        assert_eq!(parse_command(&whole[..cut]).unwrap(), None, "cut at {cut}");
    }
    let (args, used) = parse_command(&whole).unwrap().unwrap();
    assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
    assert_eq!(used, whole.len());
    assert!(parse_command(b"*1\r\n+PING\r\n").is_err());
    assert!(parse_command(b"*x\r\n").is_err());
    assert!(parse_command(b"*1\r\n$1\r\nab\r\n").is_err());
    assert!(parse_command(b"*99999999999\r\n").is_err());
}

#[test]
fn free_ports_are_distinct_and_bindable() {
    let ports = support::ports::free_ports(50);
    let unique: HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(unique.len(), ports.len());
    for port in ports {
        assert_ne!(port, 6379);
        TcpListener::bind(("127.0.0.1", port)).expect("a free port binds");
    }
}
