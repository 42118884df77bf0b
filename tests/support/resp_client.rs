//! A tiny blocking RESP client for the harness: std `TcpStream`, commands written as RESP arrays,
//! replies read by a small parser of its own (RESP2 and RESP3 types).
//!
//! It deliberately shares nothing with redwire's codec: servers must be started, checked and
//! driven by the tests even when the code under test is broken. Every read and write has a
//! timeout (5 s by default), so a silent server fails the test instead of hanging it.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The default timeout for connecting, reading and writing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Deeper nesting than this is treated as a broken reply (no server sends it in our tests).
const MAX_DEPTH: usize = 32;
/// Bulk strings over this are refused rather than allocated.
const MAX_BULK: usize = 512 * 1024 * 1024;

/// One decoded reply.
#[derive(Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...` or a RESP3 bulk error `!`.
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Null,
    /// `*N` (also used for RESP3 sets `~N`).
    Array(Vec<Reply>),
    /// RESP3 `%N`.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `>N`.
    Push(Vec<Reply>),
    /// RESP3 `,1.5` (kept as the server's text).
    Double(String),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(123...`.
    BigNumber(String),
    /// RESP3 `=N\r\ntxt:...`: the format and the text.
    Verbatim(String, Vec<u8>),
}

impl Reply {
    /// True for `+OK`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Reply::Simple(s) if s == "OK")
    }

    /// True for an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The error's first word (`WRONGPASS`, `MOVED`, ...), if this is an error.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => e.split(' ').next(),
            _ => None,
        }
    }

    /// The text of a simple string, bulk string, verbatim string, double, big number or error.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) | Reply::Error(s) | Reply::Double(s) | Reply::BigNumber(s) => Some(s.clone()),
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Like [`Reply::as_text`], but panics (naming the reply) when there is no text.
    pub fn text(&self) -> String {
        self.as_text().unwrap_or_else(|| panic!("expected a string reply, got {self:?}"))
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(v) | Reply::Push(v) => Some(v),
            _ => None,
        }
    }

    /// Panics unless this is `+OK`.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "expected +OK, got {self:?}");
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Integer(i) => write!(f, ":{i}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Null => write!(f, "(nil)"),
            Reply::Array(v) => f.debug_list().entries(v).finish(),
            Reply::Push(v) => write!(f, ">{v:?}"),
            Reply::Map(kv) => f.debug_map().entries(kv.iter().map(|(k, v)| (k, v))).finish(),
            Reply::Double(s) => write!(f, ",{s}"),
            Reply::Boolean(b) => write!(f, "#{b}"),
            Reply::BigNumber(s) => write!(f, "({s}"),
            Reply::Verbatim(fmt, b) => write!(f, "={fmt}:{:?}", String::from_utf8_lossy(b)),
        }
    }
}

/// A blocking connection speaking RESP.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects with the default timeout for connecting, reading and writing.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        Client::connect_timeout(addr, DEFAULT_TIMEOUT)
    }

    /// Connects with `timeout` for connecting, reading and writing.
    pub fn connect_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<Client> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing");
        for a in addr.to_socket_addrs()? {
            match Client::connect_one(a, timeout) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_one(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client { reader: BufReader::new(stream) })
    }

    /// Changes the read and write timeout.
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(timeout))?;
        self.reader.get_ref().set_write_timeout(Some(timeout))
    }

    /// The underlying stream (to shut it down, read its address, ...).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Writes one command as a RESP array of bulk strings, without reading the reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.write_raw(&encode_command(args))
    }

    /// Writes bytes as they are.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Reads one reply (RESP3 attributes are skipped).
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader, 0)
    }

    /// Sends one command and reads its reply. Error replies are `Ok(Reply::Error)`.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.send(args)?;
        self.read_reply()
    }

    /// Like [`Client::call`], but panics on an IO error (naming the command).
    #[track_caller]
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        match self.call(args) {
            Ok(r) => r,
            Err(e) => panic!("{}: {e}", describe(args)),
        }
    }

    /// Like [`Client::cmd`], but also panics on an error reply, and returns the reply's text.
    #[track_caller]
    pub fn cmd_text<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        match self.cmd(args) {
            Reply::Error(e) => panic!("{}: server error: {e}", describe(args)),
            r => r.text(),
        }
    }

    /// `AUTH [user] password`.
    pub fn auth(&mut self, user: Option<&str>, password: &str) -> io::Result<Reply> {
        match user {
            Some(u) => self.call(&["AUTH", u, password]),
            None => self.call(&["AUTH", password]),
        }
    }

    /// `INFO <section>` parsed into `field -> value` pairs (lines `field:value`).
    #[track_caller]
    pub fn info(&mut self, section: &str) -> Vec<(String, String)> {
        parse_info(&self.cmd_text(&["INFO", section]))
    }

    /// One field of `INFO <section>`, if present.
    #[track_caller]
    pub fn info_field(&mut self, section: &str, field: &str) -> Option<String> {
        self.info(section).into_iter().find(|(k, _)| k == field).map(|(_, v)| v)
    }
}

/// Parses `INFO` text into `field -> value` pairs, skipping `# Section` headers and blank lines.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `*N\r\n$len\r\narg\r\n...` for the given arguments.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The command as text, for panic messages (arguments after the first two are elided, since they
/// may hold passwords).
fn describe<A: AsRef<[u8]>>(args: &[A]) -> String {
    let mut words: Vec<String> =
        args.iter().take(2).map(|a| String::from_utf8_lossy(a.as_ref()).into_owned()).collect();
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case("AUTH") || w.eq_ignore_ascii_case("HELLO")) {
        words.truncate(1);
    }
    if args.len() > words.len() {
        words.push("...".to_string());
    }
    words.join(" ")
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line without its `\r\n`.
fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("line not ended by CRLF: {:?}", String::from_utf8_lossy(&line))));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| bad("line is not UTF-8"))
}

fn parse_len(s: &str) -> io::Result<i64> {
    s.parse::<i64>().map_err(|_| bad(format!("bad length {s:?}")))
}

/// Reads exactly `len` bytes followed by `\r\n`.
fn read_blob(r: &mut impl BufRead, len: i64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| bad(format!("bad blob length {len}")))?;
    if len > MAX_BULK {
        return Err(bad(format!("blob of {len} bytes is over the harness limit")));
    }
    let mut buf = vec![0u8; len + 2];
    r.read_exact(&mut buf)?;
    if !buf.ends_with(b"\r\n") {
        return Err(bad("blob not followed by CRLF"));
    }
    buf.truncate(len);
    Ok(buf)
}

fn read_elements(r: &mut impl BufRead, n: i64, depth: usize) -> io::Result<Vec<Reply>> {
    let n = usize::try_from(n).map_err(|_| bad(format!("bad element count {n}")))?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(read_reply(r, depth + 1)?);
    }
    Ok(out)
}

fn read_reply(r: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > MAX_DEPTH {
        return Err(bad("reply nested too deeply"));
    }
    let line = read_line(r)?;
    let mut chars = line.chars();
    let kind = chars.next().ok_or_else(|| bad("empty line where a reply was expected"))?;
    let rest = chars.as_str();
    Ok(match kind {
        '+' => Reply::Simple(rest.to_string()),
        '-' => Reply::Error(rest.to_string()),
        ':' => Reply::Integer(parse_len(rest)?),
        '$' => match parse_len(rest)? {
            -1 => Reply::Null,
            n => Reply::Bulk(read_blob(r, n)?),
        },
        '*' | '~' => match parse_len(rest)? {
            -1 => Reply::Null,
            n => Reply::Array(read_elements(r, n, depth)?),
        },
        '>' => Reply::Push(read_elements(r, parse_len(rest)?, depth)?),
        '%' => {
            let flat = read_elements(r, parse_len(rest)?.saturating_mul(2), depth)?;
            let mut it = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        '|' => {
            // An attribute map comes before the reply it describes: skip it.
            read_elements(r, parse_len(rest)?.saturating_mul(2), depth)?;
            return read_reply(r, depth);
        }
        '_' => Reply::Null,
        ',' => Reply::Double(rest.to_string()),
        '#' => match rest {
            "t" => Reply::Boolean(true),
            "f" => Reply::Boolean(false),
            other => return Err(bad(format!("bad boolean {other:?}"))),
        },
        '(' => Reply::BigNumber(rest.to_string()),
        '!' => Reply::Error(String::from_utf8_lossy(&read_blob(r, parse_len(rest)?)?).into_owned()),
        '=' => {
            let blob = read_blob(r, parse_len(rest)?)?;
            match blob.get(3) {
                Some(b':') => {
                    Reply::Verbatim(String::from_utf8_lossy(&blob[..3]).into_owned(), blob[4..].to_vec())
                }
                _ => return Err(bad("verbatim string without a format prefix")),
            }
        }
        other => return Err(bad(format!("unknown reply type byte {other:?} in line {line:?}"))),
    })
}

/// Parses one reply from a byte slice (used by the harness's own tests of this parser).
pub fn parse_reply(bytes: &[u8]) -> io::Result<Reply> {
    let mut r = BufReader::new(bytes);
    let reply = read_reply(&mut r, 0)?;
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes after the reply", rest.len())));
    }
    Ok(reply)
}
