//! Argument types a command accepts, each written straight into the command buffer.
//!
//! Pure: no IO.

use bytes::Bytes;

use super::Cmd;

/// A value that can be one command argument (or several, for slices of args).
pub trait ToArg {
    /// Appends the value to `cmd` as one or more arguments.
    fn write_arg(&self, cmd: &mut Cmd);
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn write_arg(&self, cmd: &mut Cmd) {
        (**self).write_arg(cmd)
    }
}

impl ToArg for [u8] {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl<const N: usize> ToArg for [u8; N] {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl ToArg for str {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes())
    }
}

impl ToArg for String {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes())
    }
}

impl ToArg for Vec<u8> {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self)
    }
}

impl ToArg for Bytes {
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

impl ToArg for f64 {
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
