//! Commands: the builder that encodes arguments straight to RESP, and reply conversion.
//!
//! Lives here: [`Cmd`] (one buffer per command, already in wire form, so the
//! connection only copies it into its write buffer), [`ToArg`] for argument
//! types, in `reply` the [`FromReply`] conversions, and in `table` the
//! command table (key positions, flags, fan-out, split kind, retry safety)
//! that both the connection layer and the router read. Not here: which node
//! a command goes to (`route`) or how it is sent (`conn`).
//!
//! Pure: no tokio, no sockets, no clock.

mod arg;
mod buf;
mod keyspec;
mod reply;

pub(crate) use reply::map_entries;
pub(crate) mod table;

pub use arg::ToArg;
pub(crate) use keyspec::KeySpec;
pub use reply::FromReply;
#[cfg(feature = "serde")]
pub use reply::{Hash, Json};
pub(crate) use table::{check_shared, command_info, is_retry_safe, CommandInfo, FanOut, SplitKind};

use bytes::BytesMut;

use buf::{array_header, header_scratch, ArgBuf};

/// One command, encoded as it is built.
///
/// The buffer holds the arguments as `$len\r\nbytes\r\n`; [`Cmd::write_to`]
/// prepends the `*argc\r\n` header. Arguments can be read back with
/// [`Cmd::args`] (routing needs the keys). Up to 118 encoded bytes (a GET, a
/// SET of a value of about 60 bytes) are kept inside the `Cmd` itself, so
/// building one allocates nothing.
#[derive(Clone)]
pub struct Cmd {
    body: ArgBuf,
    argc: u32,
    flags: u8,
}

impl PartialEq for Cmd {
    fn eq(&self, other: &Cmd) -> bool {
        self.argc == other.argc && self.flags == other.flags && self.body.as_slice() == other.body.as_slice()
    }
}

impl Eq for Cmd {}

const FLAG_IDEMPOTENT: u8 = 1;
const FLAG_BLOCKING: u8 = 2;

/// Starts a command: `cmd("SET").arg("k").arg("v")`.
#[inline]
pub fn cmd(name: &str) -> Cmd {
    Cmd::new(name)
}

impl Cmd {
    /// A command with its name as the first argument.
    #[inline]
    pub fn new(name: &str) -> Cmd {
        let mut c = Cmd { body: ArgBuf::with_capacity(0), argc: 0, flags: 0 };
        c.push_bytes(name.as_bytes());
        c
    }

    /// A command with room for `bytes` of encoded arguments (one reserve).
    pub fn with_capacity(name: &str, bytes: usize) -> Cmd {
        let mut c = Cmd { body: ArgBuf::with_capacity(bytes + name.len() + 16), argc: 0, flags: 0 };
        c.push_bytes(name.as_bytes());
        c
    }

    /// Appends one argument.
    #[must_use]
    #[inline]
    pub fn arg<A: ToArg>(mut self, a: A) -> Cmd {
        a.write_arg(&mut self);
        self
    }

    /// Appends every item of `items` as one argument each.
    #[must_use]
    pub fn args_from<I>(mut self, items: I) -> Cmd
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        for a in items {
            a.write_arg(&mut self);
        }
        self
    }

    /// Appends one argument in place.
    pub fn push_arg<A: ToArg>(&mut self, a: A) -> &mut Cmd {
        a.write_arg(self);
        self
    }

    /// Appends raw bytes as one argument.
    #[inline]
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.body.push_arg(bytes);
        self.argc += 1;
    }

    /// A command with this one's name and marks (idempotent, blocking) and no
    /// other argument: the start of one part of a command split by slot.
    pub(crate) fn same_name(&self) -> Cmd {
        let mut c = Cmd { body: ArgBuf::with_capacity(0), argc: 0, flags: self.flags };
        c.push_bytes(self.name());
        c
    }

    /// Marks the command safe to send twice (retried after "outcome unknown").
    #[must_use]
    pub fn idempotent(mut self) -> Cmd {
        self.flags |= FLAG_IDEMPOTENT;
        self
    }

    /// True when the caller marked the command idempotent.
    pub fn is_idempotent(&self) -> bool {
        self.flags & FLAG_IDEMPOTENT != 0
    }

    /// Marks a blocking command (BLPOP, XREAD BLOCK ...): the response timeout
    /// does not apply and the connection is not shared while it waits.
    #[must_use]
    pub fn blocking(mut self) -> Cmd {
        self.flags |= FLAG_BLOCKING;
        self
    }

    /// True for commands marked blocking.
    pub fn is_blocking(&self) -> bool {
        self.flags & FLAG_BLOCKING != 0
    }

    /// Number of arguments, the name included.
    pub fn argc(&self) -> usize {
        self.argc as usize
    }

    /// The encoded size of the whole command, header included.
    pub fn encoded_len(&self) -> usize {
        let mut scratch = header_scratch();
        array_header(self.argc, &mut scratch).len() + self.body.len()
    }

    /// Appends the wire form (`*argc\r\n` + arguments) to `out`.
    #[inline]
    pub fn write_to(&self, out: &mut BytesMut) {
        let body = self.body.as_slice();
        if self.argc < 10 {
            // The usual case, with a header of fixed size.
            out.reserve(4 + body.len());
            out.extend_from_slice(&[b'*', b'0' + self.argc as u8, b'\r', b'\n']);
        } else {
            let mut scratch = header_scratch();
            let header = array_header(self.argc, &mut scratch);
            out.reserve(header.len() + body.len());
            out.extend_from_slice(header);
        }
        out.extend_from_slice(body);
    }

    /// The arguments, the name first.
    pub fn args(&self) -> Args<'_> {
        Args { rest: self.body.as_slice() }
    }

    /// The argument at `index` (0 is the name).
    pub fn arg_at(&self, index: usize) -> Option<&[u8]> {
        self.args().nth(index)
    }

    /// The command name as sent (case preserved).
    #[inline]
    pub fn name(&self) -> &[u8] {
        self.args().next().unwrap_or_default()
    }

    /// True when the name equals `upper` ignoring ASCII case (`upper` in capitals).
    pub fn is(&self, upper: &str) -> bool {
        self.name().eq_ignore_ascii_case(upper.as_bytes())
    }
}

/// Iterator over a command's arguments.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        // The body is written only by `push_bytes`, so its shape is known:
        // `$` digits CRLF payload CRLF. Parse defensively anyway.
        if let [b'$', d @ b'0'..=b'9', b'\r', b'\n', rest @ ..] = self.rest {
            // One digit: command names and most short arguments.
            let len = usize::from(d - b'0');
            let arg = rest.get(..len)?;
            self.rest = rest.get(len + 2..).unwrap_or_default();
            return Some(arg);
        }
        let rest = self.rest.strip_prefix(b"$")?;
        let digits_end = rest.iter().position(|&b| b == b'\r')?;
        let mut len = 0usize;
        for &d in &rest[..digits_end] {
            len = len.checked_mul(10)?.checked_add(usize::from(d.wrapping_sub(b'0')))?;
        }
        let start = digits_end + 2;
        let arg = rest.get(start..start.checked_add(len)?)?;
        self.rest = rest.get(start + len + 2..).unwrap_or_default();
        Some(arg)
    }
}

impl std::fmt::Debug for Cmd {
    /// Shows the command name and the argument count only: arguments may hold
    /// secrets (AUTH, HELLO ... AUTH) or large values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("name", &String::from_utf8_lossy(self.name()))
            .field("argc", &self.argc)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_reads_back() {
        let c = cmd("SET").arg("key").arg(&b"v\r\nal"[..]).arg(42i64).arg(-7i32);
        let mut out = BytesMut::new();
        c.write_to(&mut out);
        assert_eq!(&out[..], b"*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nv\r\nal\r\n$2\r\n42\r\n$2\r\n-7\r\n");
        assert_eq!(c.encoded_len(), out.len());
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, vec![&b"SET"[..], b"key", b"v\r\nal", b"42", b"-7"]);
        assert_eq!(c.arg_at(2), Some(&b"v\r\nal"[..]));
        assert!(c.is("set"));
        assert_eq!(c.argc(), 5);
    }

    #[test]
    fn small_commands_stay_inline_and_large_ones_encode_the_same() {
        assert!(std::mem::size_of::<Cmd>() <= 128, "{}", std::mem::size_of::<Cmd>());
        let value = vec![b'v'; 1000];
        let c = cmd("SET").arg("k").arg(&value[..]).arg("EX").arg(10);
        let mut out = BytesMut::new();
        c.write_to(&mut out);
        let mut expected = b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n".to_vec();
        expected.extend_from_slice(&value);
        expected.extend_from_slice(b"\r\n$2\r\nEX\r\n$2\r\n10\r\n");
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(c.encoded_len(), out.len());
        assert_eq!(c.clone(), c);
        assert_ne!(c, cmd("SET").arg("k").arg(&value[..]).arg("EX").arg(11));
        let big = (0..12).fold(cmd("MSET"), |c, i| c.arg(i));
        assert_eq!(big.argc(), 13);
        let mut out = BytesMut::new();
        big.write_to(&mut out);
        assert!(out.starts_with(b"*13\r\n$4\r\nMSET\r\n$1\r\n0\r\n"));
    }

    #[test]
    fn debug_hides_arguments() {
        let c = cmd("AUTH").arg("user").arg("hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
