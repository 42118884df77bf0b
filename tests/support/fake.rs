//! `FakeServer`: a scripted TCP server for what a real server will not do on demand: malformed or
//! crafted replies, replies dribbled a byte at a time, stalls, closes and half-closes.
//!
//! Each accepted connection runs a script (a list of [`Step`]s) on its own std thread. When the
//! script ends the connection stays open, recording whatever the client still sends, until the
//! client closes or the server is dropped. Everything received is recorded; an expectation that
//! is not met is recorded in [`FakeServer::failures`] and closes that connection.
//!
//! Dropping the server never hangs: it wakes the accept loop with a connection to itself, shuts
//! every socket down (which wakes blocked reads and writes), interrupts stalls, and joins all
//! threads.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A command's arguments, name first.
pub type Args = Vec<Vec<u8>>;

/// Computes the reply bytes for one command (its arguments, name first).
pub type Responder = Arc<dyn Fn(&[Vec<u8>]) -> Vec<u8> + Send + Sync>;

/// One step of a connection's script.
#[derive(Clone)]
pub enum Step {
    /// Read one complete command (a RESP array of bulk strings, or an inline command); when a
    /// name is given, the command's name must match it (case-insensitively).
    ExpectCommand(Option<String>),
    /// Write these bytes.
    Send(Vec<u8>),
    /// Write these bytes one at a time, sleeping this long after each.
    SendSlowly(Vec<u8>, Duration),
    /// Write these bytes in chunks of this size, sleeping this long after each chunk.
    SendChunked(Vec<u8>, usize, Duration),
    /// Do nothing for this long (neither read nor write).
    Stall(Duration),
    /// Close the connection.
    Close,
    /// Shut down the write half: the client sees end-of-stream, the server still reads.
    ShutdownWrite,
    /// Answer every command with the function's bytes until the client closes.
    RespondToEach(Responder),
}

impl Step {
    /// Expect a command named `name`.
    pub fn expect(name: &str) -> Step {
        Step::ExpectCommand(Some(name.to_string()))
    }

    /// Expect any one command.
    pub fn expect_any() -> Step {
        Step::ExpectCommand(None)
    }

    /// Write `bytes`.
    pub fn send(bytes: impl AsRef<[u8]>) -> Step {
        Step::Send(bytes.as_ref().to_vec())
    }

    /// Write `bytes` one byte every `per_byte`.
    pub fn send_slowly(bytes: impl AsRef<[u8]>, per_byte: Duration) -> Step {
        Step::SendSlowly(bytes.as_ref().to_vec(), per_byte)
    }

    /// Stall for `d`.
    pub fn stall(d: Duration) -> Step {
        Step::Stall(d)
    }

    /// Answer every command with `f(args)`.
    pub fn respond_to_each(f: impl Fn(&[Vec<u8>]) -> Vec<u8> + Send + Sync + 'static) -> Step {
        Step::RespondToEach(Arc::new(f))
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::ExpectCommand(name) => write!(f, "ExpectCommand({name:?})"),
            Step::Send(b) => write!(f, "Send({:?})", String::from_utf8_lossy(b)),
            Step::SendSlowly(b, d) => write!(f, "SendSlowly({:?}, {d:?})", String::from_utf8_lossy(b)),
            Step::SendChunked(b, n, d) => write!(f, "SendChunked({} bytes, {n}, {d:?})", b.len()),
            Step::Stall(d) => write!(f, "Stall({d:?})"),
            Step::Close => write!(f, "Close"),
            Step::ShutdownWrite => write!(f, "ShutdownWrite"),
            Step::RespondToEach(_) => write!(f, "RespondToEach(..)"),
        }
    }
}

/// One command the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Which connection (0 = the first accepted).
    pub connection: usize,
    /// The arguments, name first.
    pub args: Vec<Vec<u8>>,
}

impl Received {
    /// The command name, upper-cased.
    pub fn name(&self) -> String {
        self.args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default()
    }
}

enum Scripts {
    Every(Vec<Step>),
    PerConnection(Vec<Vec<Step>>),
}

impl Scripts {
    fn for_connection(&self, i: usize) -> &[Step] {
        match self {
            Scripts::Every(steps) => steps,
            Scripts::PerConnection(list) => list.get(i).map(Vec::as_slice).unwrap_or(&[Step::Close]),
        }
    }
}

struct Shared {
    scripts: Scripts,
    stop: AtomicBool,
    /// Notified on stop, so stalls end at once.
    stop_lock: Mutex<()>,
    stop_cv: Condvar,
    connections: AtomicUsize,
    received: Mutex<Vec<Received>>,
    failures: Mutex<Vec<String>>,
    streams: Mutex<Vec<TcpStream>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`, or less if the server is being stopped. False when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            guard = self.stop_cv.wait_timeout(guard, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn fail(&self, msg: String) {
        if !self.stopping() {
            self.failures.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
        }
    }

    fn record(&self, connection: usize, args: &[Vec<u8>]) {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Received { connection, args: args.to_vec() });
    }
}

/// A scripted server on a free loopback port; stopped on drop.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Every accepted connection runs `script`.
    pub fn start(script: Vec<Step>) -> FakeServer {
        FakeServer::start_scripts(Scripts::Every(script))
    }

    /// Connection `i` runs `scripts[i]`; connections beyond the list are closed at once.
    pub fn start_per_connection(scripts: Vec<Vec<Step>>) -> FakeServer {
        FakeServer::start_scripts(Scripts::PerConnection(scripts))
    }

    fn start_scripts(scripts: Scripts) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake server: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake server: local_addr");
        let shared = Arc::new(Shared {
            scripts,
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            connections: AtomicUsize::new(0),
            received: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            streams: Mutex::new(Vec::new()),
            handlers: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name(format!("fake-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("fake server: spawn the accept thread");
        FakeServer { addr, shared, accept_thread: Some(accept_thread) }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Every command received so far, in arrival order, on any connection.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The arguments of every command received so far.
    pub fn commands(&self) -> Vec<Vec<Vec<u8>>> {
        self.received().into_iter().map(|r| r.args).collect()
    }

    /// The (upper-cased) names of every command received so far.
    pub fn command_names(&self) -> Vec<String> {
        self.received().iter().map(Received::name).collect()
    }

    /// Expectations that were not met (wrong command, client closed first, unparsable bytes).
    pub fn failures(&self) -> Vec<String> {
        self.shared.failures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `n` connections were accepted; false after `timeout`.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.connections() >= n)
    }

    /// Waits until at least `n` commands were received; false after `timeout`.
    pub fn wait_for_commands(&self, n: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.shared.received.lock().map(|r| r.len() >= n).unwrap_or(false))
    }
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        {
            let _guard = self.shared.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.stop.store(true, Ordering::SeqCst);
            self.shared.stop_cv.notify_all();
        }
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        // No handler is added after the accept thread ended: shut every socket down (waking any
        // blocked read or write), then join the handlers.
        for s in self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let handlers = std::mem::take(&mut *self.shared.handlers.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handlers {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let index = shared.connections.fetch_add(1, Ordering::SeqCst);
        let Ok(clone) = stream.try_clone() else {
            shared.fail(format!("connection {index}: cannot clone the socket"));
            continue;
        };
        shared.streams.lock().unwrap_or_else(|e| e.into_inner()).push(clone);
        let conn_shared = Arc::clone(&shared);
        let handler = std::thread::Builder::new()
            .name(format!("fake-conn-{index}"))
            .spawn(move || run_connection(index, stream, &conn_shared));
        match handler {
            Ok(h) => shared.handlers.lock().unwrap_or_else(|e| e.into_inner()).push(h),
            Err(e) => shared.fail(format!("connection {index}: cannot spawn its thread: {e}")),
        }
    }
}

struct Conn<'a> {
    index: usize,
    stream: TcpStream,
    buf: Vec<u8>,
    shared: &'a Shared,
}

impl Conn<'_> {
    /// The next command; `Ok(None)` when the client closed first.
    fn read_command(&mut self) -> Result<Option<Args>, String> {
        loop {
            match parse_command(&self.buf)? {
                Some((args, used)) => {
                    self.buf.drain(..used);
                    if args.is_empty() {
                        continue; // an empty inline line
                    }
                    self.shared.record(self.index, &args);
                    return Ok(Some(args));
                }
                None => {
                    let mut chunk = [0u8; 4096];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => return Ok(None),
                        Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("read error: {e}")),
                    }
                }
            }
        }
    }
}

fn run_connection(index: usize, stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn { index, stream, buf: Vec::new(), shared };
    run_script(&mut conn, shared.scripts.for_connection(index));
    let _ = conn.stream.shutdown(Shutdown::Both);
}

fn run_script(conn: &mut Conn<'_>, steps: &[Step]) {
    let shared = conn.shared;
    let index = conn.index;
    for (n, step) in steps.iter().enumerate() {
        if shared.stopping() {
            return;
        }
        match step {
            Step::ExpectCommand(name) => match conn.read_command() {
                Ok(Some(args)) => {
                    let got = String::from_utf8_lossy(&args[0]).into_owned();
                    if let Some(want) = name {
                        if !got.eq_ignore_ascii_case(want) {
                            shared.fail(format!("connection {index} step {n}: expected {want}, got {got}"));
                            return;
                        }
                    }
                }
                Ok(None) => {
                    shared
                        .fail(format!("connection {index} step {n}: client closed before sending {name:?}"));
                    return;
                }
                Err(e) => {
                    shared.fail(format!("connection {index} step {n}: {e}"));
                    return;
                }
            },
            Step::Send(bytes) => {
                if conn.stream.write_all(bytes).is_err() {
                    return;
                }
            }
            Step::SendSlowly(bytes, per_byte) => {
                for b in bytes {
                    if conn.stream.write_all(std::slice::from_ref(b)).is_err() || !shared.sleep(*per_byte) {
                        return;
                    }
                }
            }
            Step::SendChunked(bytes, chunk, pause) => {
                for part in bytes.chunks((*chunk).max(1)) {
                    if conn.stream.write_all(part).is_err() || !shared.sleep(*pause) {
                        return;
                    }
                }
            }
            Step::Stall(d) => {
                if !shared.sleep(*d) {
                    return;
                }
            }
            Step::Close => return,
            Step::ShutdownWrite => {
                let _ = conn.stream.shutdown(Shutdown::Write);
            }
            Step::RespondToEach(f) => loop {
                match conn.read_command() {
                    Ok(Some(args)) => {
                        if conn.stream.write_all(&f(&args)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        shared.fail(format!("connection {index} step {n}: {e}"));
                        return;
                    }
                }
            },
        }
    }
    // The script is done: keep the connection, recording what still comes, until the client
    // closes or the server stops.
    while let Ok(Some(_)) = conn.read_command() {}
}

/// Upper bounds that keep a hostile or broken client from making the fake allocate wildly.
const MAX_ARGS: usize = 1 << 20;
const MAX_ARG_LEN: usize = 512 * 1024 * 1024;

/// Parses one command from the start of `buf`: `Ok(None)` when more bytes are needed, else the
/// arguments and the number of bytes used. An empty argument list means an empty inline line.
pub fn parse_command(buf: &[u8]) -> Result<Option<(Args, usize)>, String> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let rest = buf.get(at..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let end = if nl > 0 && rest[nl - 1] == b'\r' { nl - 1 } else { nl };
        Some((&rest[..end], at + nl + 1))
    }
    fn number(text: &[u8], what: &str) -> Result<usize, String> {
        std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| format!("bad {what} {:?}", String::from_utf8_lossy(text)))
    }
    let Some(&first) = buf.first() else { return Ok(None) };
    if first != b'*' {
        let Some((text, used)) = line(buf, 0) else { return Ok(None) };
        let args =
            text.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect();
        return Ok(Some((args, used)));
    }
    let Some((header, mut at)) = line(buf, 0) else { return Ok(None) };
    let count = number(&header[1..], "argument count")?;
    if count > MAX_ARGS {
        return Err(format!("argument count {count} is over the fake's limit"));
    }
    let mut args = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let Some((head, next)) = line(buf, at) else { return Ok(None) };
        if head.first() != Some(&b'$') {
            return Err(format!("expected a bulk string header, got {:?}", String::from_utf8_lossy(head)));
        }
        let len = number(&head[1..], "bulk length")?;
        if len > MAX_ARG_LEN {
            return Err(format!("argument of {len} bytes is over the fake's limit"));
        }
        let end = next + len;
        match buf.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err("bulk string not followed by CRLF".to_string()),
        }
        args.push(buf[next..end].to_vec());
        at = end + 2;
    }
    Ok(Some((args, at)))
}
