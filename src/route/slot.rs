//! Hash slots: which of the 16384 cluster slots a key belongs to.
//!
//! Lives here: [`key_slot`] (CRC16/XMODEM, from the `crc16` crate, of the key, or of its hash tag, modulo
//! [`SLOTS`]) and [`hash_tag`]. Not here: which node owns a slot (`topology`) or
//! where the keys of a command are (`keys`).
//!
//! Pure: no tokio, no sockets, no clock.

/// Number of hash slots in a Redis/Valkey cluster.
pub const SLOTS: u16 = 16384;

/// CRC16/XMODEM of `data` (polynomial 0x1021, initial value 0, no
/// reflection, no final xor), as the cluster specification defines it. The
/// `crc16` crate's table-driven version: faster than our hand-written one in
/// `benches/slot.rs` (BENCHMARKS.md, "Slot hash").
pub fn crc16(data: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(data)
}

/// The part of `key` that is hashed: the bytes between the first `{` and the
/// first `}` after it, when that span is non-empty; otherwise the whole key.
///
/// `{user1000}.following` hashes `user1000`; `foo{}{bar}` hashes the whole key
/// (the first tag is empty); `foo{{bar}}` hashes `{bar`.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let after = key.get(open + 1..).unwrap_or_default();
    match after.iter().position(|&b| b == b'}') {
        Some(len) if len > 0 => after.get(..len).unwrap_or(key),
        _ => key,
    }
}

/// The hash slot of `key`, in `0..SLOTS`, honouring hash tags.
pub fn key_slot(key: &[u8]) -> u16 {
    // SLOTS is a power of two, so the modulo is a mask.
    crc16(hash_tag(key)) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_spec_check_value() {
        // The cluster specification's reference value for CRC16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
        // The CRC of one byte is that byte's table entry.
        assert_eq!(crc16(&[1]), 0x1021);
        assert_eq!(crc16(&[255]), 0x1EF0);
    }

    #[test]
    fn agrees_with_a_bitwise_crc() {
        fn bitwise(data: &[u8]) -> u16 {
            let mut crc: u16 = 0;
            for &b in data {
                crc ^= u16::from(b) << 8;
                for _ in 0..8 {
                    crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
                }
            }
            crc
        }
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for end in 0..data.len() {
            assert_eq!(crc16(&data[..end]), bitwise(&data[..end]), "prefix of {end} bytes");
        }
    }

    #[test]
    fn known_slots() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b"123456789"), 12739); // 0x31C3 < 16384
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags_follow_the_spec() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        // No closing brace, or nothing but an opening one: the whole key.
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"}{"), b"}{");
        assert_eq!(hash_tag(b"{}"), b"{}");
        assert_eq!(hash_tag(b"a}b{c}"), b"c");
    }

    #[test]
    fn slots_are_in_range() {
        for i in 0..5000u32 {
            assert!(key_slot(format!("key:{i}").as_bytes()) < SLOTS);
        }
    }
}
