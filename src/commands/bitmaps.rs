//! Bitmap commands on string values: `SETBIT`, `GETBIT`, `BITCOUNT`,
//! `BITPOS`, `BITOP` and `BITFIELD` (`GET`/`SET`/`INCRBY`).
//!
//! On a cluster, `BITOP` needs its keys in one slot, else
//! [`Error::CrossSlot`]. Not here: the string commands (`strings`).

use std::future::Future;

use super::Execute;
use crate::cmd::{cmd, Cmd, ToArg};
use crate::error::Error;

/// The unit of a `BITCOUNT`/`BITPOS` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitUnit {
    /// `BYTE` (the server's default).
    Byte,
    /// `BIT`.
    Bit,
}

impl BitUnit {
    fn as_arg(self) -> &'static str {
        match self {
            BitUnit::Byte => "BYTE",
            BitUnit::Bit => "BIT",
        }
    }
}

/// A `BITCOUNT`/`BITPOS` range, inclusive; negative counts from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First byte (or bit).
    pub start: i64,
    /// Last byte (or bit), inclusive.
    pub end: i64,
    /// Bytes or bits.
    pub unit: BitUnit,
}

impl BitRange {
    /// Bytes `start..=end`.
    pub fn bytes(start: i64, end: i64) -> BitRange {
        BitRange { start, end, unit: BitUnit::Byte }
    }

    /// Bits `start..=end`.
    pub fn bits(start: i64, end: i64) -> BitRange {
        BitRange { start, end, unit: BitUnit::Bit }
    }

    fn push_to(self, c: &mut Cmd) {
        c.push_arg(self.start).push_arg(self.end).push_arg(self.unit.as_arg());
    }
}

/// The operation of a `BITOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `XOR`
    Xor,
    /// `NOT` (one source key).
    Not,
}

impl BitOp {
    fn as_arg(self) -> &'static str {
        match self {
            BitOp::And => "AND",
            BitOp::Or => "OR",
            BitOp::Xor => "XOR",
            BitOp::Not => "NOT",
        }
    }
}

/// An integer type of `BITFIELD`: signed up to 64 bits, unsigned up to 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitType {
    signed: bool,
    bits: u8,
}

impl BitType {
    /// `i<bits>`.
    pub fn signed(bits: u8) -> BitType {
        BitType { signed: true, bits }
    }

    /// `u<bits>`.
    pub fn unsigned(bits: u8) -> BitType {
        BitType { signed: false, bits }
    }

    fn to_arg(self) -> String {
        format!("{}{}", if self.signed { 'i' } else { 'u' }, self.bits)
    }
}

/// One `BITFIELD` operation; `offset` is in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitFieldOp {
    /// `GET type offset`: the value.
    Get(BitType, u64),
    /// `SET type offset value`: the old value.
    Set(BitType, u64, i64),
    /// `INCRBY type offset increment`: the new value (wraps on overflow,
    /// the server's default).
    IncrBy(BitType, u64, i64),
}

impl BitFieldOp {
    fn push_to(self, c: &mut Cmd) {
        match self {
            BitFieldOp::Get(t, off) => c.push_arg("GET").push_arg(t.to_arg()).push_arg(off),
            BitFieldOp::Set(t, off, v) => c.push_arg("SET").push_arg(t.to_arg()).push_arg(off).push_arg(v),
            BitFieldOp::IncrBy(t, off, v) => {
                c.push_arg("INCRBY").push_arg(t.to_arg()).push_arg(off).push_arg(v)
            }
        };
    }
}

/// The bitmap group, for every [`Execute`].
pub trait BitmapCommands: Execute {
    /// `SETBIT key offset 0|1`: the bit's old value.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (offset past 2^32 bits, `WRONGTYPE`).
    fn setbit<K: ToArg>(
        &self,
        key: K,
        offset: u64,
        value: bool,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("SETBIT").arg(key).arg(offset).arg(u16::from(value));
        async move { self.query(&c).await }
    }

    /// `GETBIT key offset` (false past the end or for a missing key).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn getbit<K: ToArg>(&self, key: K, offset: u64) -> impl Future<Output = Result<bool, Error>> + Send {
        let c = cmd("GETBIT").arg(key).arg(offset);
        async move { self.query(&c).await }
    }

    /// `BITCOUNT key [start end BYTE|BIT]`: how many bits are set.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn bitcount<K: ToArg>(
        &self,
        key: K,
        range: Option<BitRange>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let mut c = cmd("BITCOUNT").arg(key);
        if let Some(r) = range {
            r.push_to(&mut c);
        }
        async move { self.query(&c).await }
    }

    /// `BITPOS key 0|1 [start end BYTE|BIT]`: the first bit with that value,
    /// -1 when there is none (see the server's rules for a clear bit past
    /// the end).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn bitpos<K: ToArg>(
        &self,
        key: K,
        bit: bool,
        range: Option<BitRange>,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let mut c = cmd("BITPOS").arg(key).arg(u16::from(bit));
        if let Some(r) = range {
            r.push_to(&mut c);
        }
        async move { self.query(&c).await }
    }

    /// `BITOP op destination key...`: the length of the result.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`NOT` with several keys);
    /// [`Error::CrossSlot`] on a cluster when the keys span slots.
    fn bitop<D: ToArg, K: ToArg>(
        &self,
        op: BitOp,
        destination: D,
        keys: &[K],
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let c = cmd("BITOP").arg(op.as_arg()).arg(destination).args_from(keys);
        async move { self.query(&c).await }
    }

    /// `BITFIELD key op...`: one result per operation, in order.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (a bad type or offset).
    fn bitfield<K: ToArg>(
        &self,
        key: K,
        ops: &[BitFieldOp],
    ) -> impl Future<Output = Result<Vec<Option<i64>>, Error>> + Send {
        let mut c = cmd("BITFIELD").arg(key);
        for op in ops {
            op.push_to(&mut c);
        }
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> BitmapCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfield_encodes() {
        let mut c = cmd("BITFIELD").arg("k");
        BitFieldOp::Set(BitType::unsigned(8), 0, 200).push_to(&mut c);
        BitFieldOp::IncrBy(BitType::signed(5), 100, 1).push_to(&mut c);
        BitFieldOp::Get(BitType::unsigned(4), 0).push_to(&mut c);
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(
            args,
            vec![
                &b"BITFIELD"[..],
                b"k",
                b"SET",
                b"u8",
                b"0",
                b"200",
                b"INCRBY",
                b"i5",
                b"100",
                b"1",
                b"GET",
                b"u4",
                b"0"
            ]
        );
    }
}
