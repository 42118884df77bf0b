//! Argument types a command accepts, each written straight into the command buffer.
//!
//! One value is one argument: text (`&str`, `String`), bytes (`&[u8]`,
//! `Vec<u8>`, `Bytes`, `[u8; N]`), integers and floats in decimal, `bool` as
//! `1`/`0`. Some values are several arguments or none:
//!
//! - a slice, array or `Vec` of arguments (`&["a", "b"]`, `vec![1, 2]`) is one
//!   argument per element (byte slices and `Vec<u8>` stay one argument: `u8`
//!   is deliberately not an argument type);
//! - a pair or triple (`("field", 1)`) is its elements in order, so
//!   `&[("f1", "v1"), ("f2", "v2")]` is `f1 v1 f2 v2`;
//! - `Option<T>` is `T`'s arguments for `Some`, and **no argument at all** for
//!   `None` (so an optional flag or value is simply left out).
//!
//! Not here: reply conversion (`reply`). Pure: no IO.

use bytes::Bytes;

use super::Cmd;

/// A value that can be one command argument (or several, for slices of args).
pub trait ToArg {
    /// Appends the value to `cmd` as one or more arguments.
    fn write_arg(&self, cmd: &mut Cmd);
}

impl<T: ToArg + ?Sized> ToArg for &T {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        (**self).write_arg(cmd)
    }
}

impl ToArg for bool {
    /// `1` for true, `0` for false (what the server's boolean-ish arguments take).
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(if *self { b"1" } else { b"0" })
    }
}

/// `None` writes **no argument**; `Some(v)` writes `v`'s.
impl<T: ToArg> ToArg for Option<T> {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        if let Some(v) = self {
            v.write_arg(cmd)
        }
    }
}

/// One argument per element. (`[u8]` is one argument: `u8` is no `ToArg`.)
impl<T: ToArg> ToArg for [T] {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        for item in self {
            item.write_arg(cmd)
        }
    }
}

/// One argument per element.
impl<T: ToArg, const N: usize> ToArg for [T; N] {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        self.as_slice().write_arg(cmd)
    }
}

/// One argument per element.
impl<T: ToArg> ToArg for Vec<T> {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        self.as_slice().write_arg(cmd)
    }
}

/// Both elements, in order (a field and its value, a score and its member).
impl<A: ToArg, B: ToArg> ToArg for (A, B) {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        self.0.write_arg(cmd);
        self.1.write_arg(cmd)
    }
}

/// The three elements, in order (`GEOADD`'s longitude, latitude, member).
impl<A: ToArg, B: ToArg, C: ToArg> ToArg for (A, B, C) {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        self.0.write_arg(cmd);
        self.1.write_arg(cmd);
        self.2.write_arg(cmd)
    }
}

impl ToArg for [u8] {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl<const N: usize> ToArg for [u8; N] {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl ToArg for str {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes())
    }
}

impl ToArg for String {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes())
    }
}

impl ToArg for Vec<u8> {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl ToArg for Bytes {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn write_arg(&self, cmd: &mut Cmd) {
                let mut b = itoa::Buffer::new();
                cmd.push_bytes(b.format(*self).as_bytes())
            }
        }
    )*};
}
int_arg!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

impl ToArg for bytes::BytesMut {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl ToArg for std::borrow::Cow<'_, str> {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes())
    }
}

impl ToArg for char {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        let mut buf = [0u8; 4];
        cmd.push_bytes(self.encode_utf8(&mut buf).as_bytes())
    }
}

impl ToArg for f32 {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        f64::from(*self).write_arg(cmd)
    }
}

impl ToArg for f64 {
    #[inline]
    fn write_arg(&self, cmd: &mut Cmd) {
        // Rust's shortest round-trip formatting; the server accepts `inf`/`-inf`.
        let text = if self.is_infinite() {
            if *self > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            }
        } else {
            format!("{self}")
        };
        cmd.push_bytes(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::{cmd, Cmd};

    fn args(c: &Cmd) -> Vec<String> {
        c.args().skip(1).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn bools_options_and_sequences() {
        let c = cmd("X").arg(true).arg(false).arg(None::<&str>).arg(Some(7u32)).arg(&["a", "b"][..]);
        assert_eq!(args(&c), ["1", "0", "7", "a", "b"]);
        let c = cmd("X").arg([1i64, 2, 3]).arg(vec!["x".to_string()]).arg(Vec::<i64>::new());
        assert_eq!(args(&c), ["1", "2", "3", "x"]);
        let c = cmd("HSET").arg("h").arg(&[("f1", 1), ("f2", 2)][..]);
        assert_eq!(args(&c), ["h", "f1", "1", "f2", "2"]);
    }

    #[test]
    fn bytes_stay_one_argument() {
        let c = cmd("X").arg(&b"ab"[..]).arg(vec![1u8, 2]).arg(*b"cd");
        assert_eq!(c.argc(), 4);
        assert_eq!(c.arg_at(1), Some(&b"ab"[..]));
        assert_eq!(c.arg_at(2), Some(&[1u8, 2][..]));
    }

    #[test]
    fn numbers_and_text() {
        let c = cmd("X").arg(1.5f32).arg(f64::NEG_INFINITY).arg('\u{e9}').arg(std::borrow::Cow::from("c"));
        assert_eq!(args(&c), ["1.5", "-inf", "\u{e9}", "c"]);
    }
}
