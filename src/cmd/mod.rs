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

use bytes::{BufMut, BytesMut};

/// One command, encoded as it is built.
///
/// The buffer holds the arguments as `$len\r\nbytes\r\n`; [`Cmd::write_to`]
/// prepends the `*argc\r\n` header. Arguments can be read back with
/// [`Cmd::args`] (routing needs the keys).
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    body: BytesMut,
    argc: u32,
    flags: u8,
}

const FLAG_IDEMPOTENT: u8 = 1;
const FLAG_BLOCKING: u8 = 2;

/// Starts a command: `cmd("SET").arg("k").arg("v")`.
pub fn cmd(name: &str) -> Cmd {
    Cmd::new(name)
}

impl Cmd {
    /// A command with its name as the first argument.
    pub fn new(name: &str) -> Cmd {
        let mut c = Cmd { body: BytesMut::with_capacity(64), argc: 0, flags: 0 };
        c.push_bytes(name.as_bytes());
        c
    }

    /// A command with room for `bytes` of encoded arguments (one reserve).
    pub fn with_capacity(name: &str, bytes: usize) -> Cmd {
        let mut c = Cmd { body: BytesMut::with_capacity(bytes + name.len() + 16), argc: 0, flags: 0 };
        c.push_bytes(name.as_bytes());
        c
    }

    /// Appends one argument.
    #[must_use]
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
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let mut len = itoa::Buffer::new();
        let len = len.format(bytes.len());
        self.body.reserve(1 + len.len() + 2 + bytes.len() + 2);
        self.body.put_u8(b'$');
        self.body.put_slice(len.as_bytes());
        self.body.put_slice(b"\r\n");
        self.body.put_slice(bytes);
        self.body.put_slice(b"\r\n");
        self.argc += 1;
    }

    /// A command with this one's name and marks (idempotent, blocking) and no
    /// other argument: the start of one part of a command split by slot.
    pub(crate) fn same_name(&self) -> Cmd {
        let mut c = Cmd { body: BytesMut::with_capacity(64), argc: 0, flags: self.flags };
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
        let mut n = itoa::Buffer::new();
        1 + n.format(self.argc).len() + 2 + self.body.len()
    }

    /// Appends the wire form (`*argc\r\n` + arguments) to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        let mut n = itoa::Buffer::new();
        let n = n.format(self.argc);
        out.reserve(1 + n.len() + 2 + self.body.len());
        out.put_u8(b'*');
        out.put_slice(n.as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(&self.body);
    }

    /// The arguments, the name first.
    pub fn args(&self) -> Args<'_> {
        Args { rest: &self.body }
    }

    /// The argument at `index` (0 is the name).
    pub fn arg_at(&self, index: usize) -> Option<&[u8]> {
        self.args().nth(index)
    }

    /// The command name as sent (case preserved).
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

    fn next(&mut self) -> Option<&'a [u8]> {
        // The body is written only by `push_bytes`, so its shape is known:
        // `$` digits CRLF payload CRLF. Parse defensively anyway.
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
    fn debug_hides_arguments() {
        let c = cmd("AUTH").arg("user").arg("hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
