//! [`ArgBuf`]: the bytes of a command's encoded arguments, inline while small.
//!
//! Most commands (a GET, a SET of a short value, an INCR) encode to well
//! under [`INLINE`] bytes, so building one allocates nothing; a larger one
//! moves to the heap once, with room to grow. Lives here: the buffer and
//! the RESP argument writer (`$len\r\nbytes\r\n`). Not here: the `*argc`
//! header or reading arguments back (`Cmd`).
//!
//! Pure: no IO.

/// Encoded bytes kept inside the command before it spills to the heap: with
/// the enum's tag and length, [`Cmd`](super::Cmd) stays at 128 bytes.
pub(super) const INLINE: usize = 118;

/// Most bytes a `$len\r\n` header takes: `$`, 20 digits, CRLF.
const MAX_HEADER: usize = 23;

#[derive(Clone)]
pub(super) enum ArgBuf {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl ArgBuf {
    /// An empty buffer that will hold `capacity` bytes without growing.
    #[inline]
    pub(super) fn with_capacity(capacity: usize) -> ArgBuf {
        if capacity <= INLINE {
            ArgBuf::Inline { len: 0, bytes: [0; INLINE] }
        } else {
            ArgBuf::Heap(Vec::with_capacity(capacity))
        }
    }

    #[inline]
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            ArgBuf::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            ArgBuf::Heap(v) => v,
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            ArgBuf::Inline { len, .. } => usize::from(*len),
            ArgBuf::Heap(v) => v.len(),
        }
    }

    /// Appends `payload` as one RESP bulk argument: `$len\r\npayload\r\n`.
    #[inline]
    pub(super) fn push_arg(&mut self, payload: &[u8]) {
        let n = payload.len();
        if let ArgBuf::Inline { len, bytes } = self {
            // The usual argument (under 100 bytes, room left inline): the
            // header written in place, one copy of the payload.
            let at = usize::from(*len);
            let wide = usize::from(n >= 10);
            let head = 4 + wide;
            if n < 100 {
                if let Some(dst) = bytes.get_mut(at..at + head + n + 2) {
                    let (h, rest) = dst.split_at_mut(head);
                    h[0] = b'$';
                    // Tens first; without them the units overwrite it.
                    h[1] = b'0' + (n / 10) as u8;
                    h[1 + wide] = b'0' + (n % 10) as u8;
                    h[2 + wide] = b'\r';
                    h[3 + wide] = b'\n';
                    let (p, crlf) = rest.split_at_mut(n);
                    p.copy_from_slice(payload);
                    crlf.copy_from_slice(b"\r\n");
                    // At most `INLINE`, below 256.
                    *len = u8::try_from(at + head + n + 2).unwrap_or(u8::MAX);
                    return;
                }
            }
        }
        self.push_arg_slow(payload);
    }

    /// [`ArgBuf::push_arg`] for a long argument or a full inline buffer.
    #[cold]
    #[inline(never)]
    fn push_arg_slow(&mut self, payload: &[u8]) {
        let mut header = [0u8; MAX_HEADER];
        let header = bulk_header(payload.len(), &mut header);
        let need = header.len() + payload.len() + 2;
        if let ArgBuf::Inline { len, bytes } = self {
            let at = usize::from(*len);
            if let Some(dst) = bytes.get_mut(at..at + need) {
                let (h, rest) = dst.split_at_mut(header.len());
                h.copy_from_slice(header);
                let (p, crlf) = rest.split_at_mut(payload.len());
                p.copy_from_slice(payload);
                crlf.copy_from_slice(b"\r\n");
                *len = u8::try_from(at + need).unwrap_or(u8::MAX);
                return;
            }
        }
        self.spill(need);
        if let ArgBuf::Heap(v) = self {
            v.extend_from_slice(header);
            v.extend_from_slice(payload);
            v.extend_from_slice(b"\r\n");
        }
    }

    /// Makes the buffer a heap one (moving the inline bytes once) with room
    /// for `more` bytes.
    #[cold]
    fn spill(&mut self, more: usize) {
        match self {
            ArgBuf::Inline { len, bytes } => {
                let used = bytes.get(..usize::from(*len)).unwrap_or_default();
                let mut v = Vec::with_capacity((used.len() + more).max(2 * INLINE));
                v.extend_from_slice(used);
                *self = ArgBuf::Heap(v);
            }
            ArgBuf::Heap(v) => v.reserve(more),
        }
    }
}

/// Writes `$<n>\r\n` into `out` and returns it.
#[inline]
fn bulk_header(n: usize, out: &mut [u8; MAX_HEADER]) -> &[u8] {
    out[0] = b'$';
    let end = write_decimal(n as u64, &mut out[1..]) + 1;
    out[end] = b'\r';
    out[end + 1] = b'\n';
    &out[..end + 2]
}

/// Writes `*<argc>\r\n` into `out` and returns it.
#[inline]
pub(super) fn array_header(argc: u32, out: &mut [u8; MAX_HEADER]) -> &[u8] {
    out[0] = b'*';
    let end = write_decimal(u64::from(argc), &mut out[1..]) + 1;
    out[end] = b'\r';
    out[end + 1] = b'\n';
    &out[..end + 2]
}

/// Writes `n` in decimal at the start of `out` (22 bytes: room for 20 digits
/// and the CRLF after them) and returns the number of digits. Small numbers,
/// the usual argument lengths and counts, take the short branches.
#[inline]
fn write_decimal(n: u64, out: &mut [u8]) -> usize {
    if n < 10 {
        out[0] = b'0' + n as u8;
        1
    } else if n < 100 {
        out[0] = b'0' + (n / 10) as u8;
        out[1] = b'0' + (n % 10) as u8;
        2
    } else {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n).as_bytes();
        out[..digits.len()].copy_from_slice(digits);
        digits.len()
    }
}

/// `MAX_HEADER`-sized scratch for [`array_header`].
pub(super) fn header_scratch() -> [u8; MAX_HEADER] {
    [0; MAX_HEADER]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_the_decimal_form() {
        for n in [0usize, 1, 9, 10, 99, 100, 101, 65_535, usize::MAX] {
            let mut out = [0u8; MAX_HEADER];
            assert_eq!(bulk_header(n, &mut out), format!("${n}\r\n").as_bytes());
        }
        for n in [0u32, 7, 42, 1000, u32::MAX] {
            let mut out = header_scratch();
            assert_eq!(array_header(n, &mut out), format!("*{n}\r\n").as_bytes());
        }
    }

    #[test]
    fn spills_to_the_heap_keeping_the_bytes() {
        let mut b = ArgBuf::with_capacity(0);
        let mut expected = Vec::new();
        for i in 0..40usize {
            let payload = vec![b'a' + (i % 26) as u8; i];
            b.push_arg(&payload);
            expected.extend_from_slice(format!("${i}\r\n").as_bytes());
            expected.extend_from_slice(&payload);
            expected.extend_from_slice(b"\r\n");
            assert_eq!(b.as_slice(), &expected[..]);
            assert_eq!(b.len(), expected.len());
        }
        assert!(matches!(b, ArgBuf::Heap(_)));
        // Exactly full inline, then one byte more.
        let mut b = ArgBuf::with_capacity(0);
        b.push_arg(&[b'x'; INLINE - 8]);
        assert!(matches!(b, ArgBuf::Inline { len, .. } if usize::from(len) == INLINE));
        b.push_arg(b"");
        assert_eq!(&b.as_slice()[INLINE..], b"$0\r\n\r\n");
        assert!(ArgBuf::with_capacity(INLINE + 1).as_slice().is_empty());
    }
}
