//! Which commands the cache answers, and what the server's invalidations
//! say: the table of cacheable reads, the identity of a cached reply (its
//! command and arguments besides the key), the keys a write invalidates,
//! and the parser of invalidation messages (RESP3 push and RESP2
//! `__redis__:invalidate` message alike). Pure. Not here: the store
//! (`store`), the send path (`send`).

use bytes::Bytes;

use crate::cmd::Cmd;
use crate::resp::Frame;

/// The cacheable reads: read-only, deterministic, one key at argument 1,
/// and the minimum argument count (name included). Everything else
/// (random members, TTLs, scans, multi-key reads but MGET) passes through.
const CACHEABLE: &[(&str, usize)] = &[
    ("GET", 2),
    ("GETRANGE", 4),
    ("STRLEN", 2),
    ("GETBIT", 3),
    ("BITCOUNT", 2),
    ("BITPOS", 3),
    ("EXISTS", 2),
    ("TYPE", 2),
    ("HGET", 3),
    ("HGETALL", 2),
    ("HMGET", 3),
    ("HEXISTS", 3),
    ("HLEN", 2),
    ("HKEYS", 2),
    ("HVALS", 2),
    ("HSTRLEN", 3),
    ("SMEMBERS", 2),
    ("SISMEMBER", 3),
    ("SMISMEMBER", 3),
    ("SCARD", 2),
    ("ZSCORE", 3),
    ("ZMSCORE", 3),
    ("ZCARD", 2),
    ("ZRANGE", 4),
    ("ZRANK", 3),
    ("ZREVRANK", 3),
    ("ZCOUNT", 4),
    ("LRANGE", 4),
    ("LLEN", 2),
    ("LINDEX", 3),
];

/// What the cache does with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A cacheable single-key read.
    Read,
    /// `MGET`: looked up key by key as `GET`s.
    Mget,
    /// Passes through untouched.
    Other,
}

/// How `c` is treated. The first-letter test keeps SET, DEL, INCR ... off
/// the table scan.
pub(crate) fn kind(c: &Cmd) -> Kind {
    let name = c.name();
    let argc = c.argc();
    if name.eq_ignore_ascii_case(b"GET") {
        return if argc == 2 { Kind::Read } else { Kind::Other };
    }
    if name.eq_ignore_ascii_case(b"MGET") {
        return if argc >= 2 { Kind::Mget } else { Kind::Other };
    }
    if !matches!(
        name.first().map(u8::to_ascii_uppercase),
        Some(b'G' | b'S' | b'B' | b'E' | b'T' | b'H' | b'Z' | b'L')
    ) {
        return Kind::Other;
    }
    match CACHEABLE.iter().find(|(n, _)| name.eq_ignore_ascii_case(n.as_bytes())) {
        // EXISTS with several keys counts them: not a single-key read.
        Some(("EXISTS", _)) if argc != 2 => Kind::Other,
        Some((_, min)) if argc >= *min => Kind::Read,
        _ => Kind::Other,
    }
}

/// The identity of a cached reply besides its key: the command name in
/// capitals and every argument after the key, each length-prefixed.
pub(crate) fn encode_id<'a, I: Iterator<Item = &'a [u8]>>(name: &[u8], rest: I) -> Box<[u8]> {
    let mut out = Vec::with_capacity(16);
    push_piece(&mut out, name, true);
    for a in rest {
        push_piece(&mut out, a, false);
    }
    out.into_boxed_slice()
}

fn push_piece(out: &mut Vec<u8>, piece: &[u8], upper: bool) {
    out.extend_from_slice(&(piece.len() as u32).to_le_bytes());
    if upper {
        out.extend(piece.iter().map(u8::to_ascii_uppercase));
    } else {
        out.extend_from_slice(piece);
    }
}

/// True when `id` is what [`encode_id`] makes of `name` and `rest`,
/// compared in place (a lookup allocates nothing).
pub(crate) fn id_matches<'a, I: Iterator<Item = &'a [u8]>>(id: &[u8], name: &[u8], rest: I) -> bool {
    let mut at = 0usize;
    let mut piece = |p: &[u8], upper: bool| -> bool {
        let Some(len) = id.get(at..at + 4) else { return false };
        if len != (p.len() as u32).to_le_bytes() {
            return false;
        }
        at += 4;
        let Some(stored) = id.get(at..at + p.len()) else { return false };
        at += p.len();
        if upper {
            stored.iter().zip(p).all(|(s, c)| *s == c.to_ascii_uppercase())
        } else {
            stored == p
        }
    };
    if !piece(name, true) {
        return false;
    }
    for a in rest {
        if !piece(a, false) {
            return false;
        }
    }
    at == id.len()
}

/// The identity of the `GET` each key of an `MGET` stands for.
pub(crate) fn get_id() -> Box<[u8]> {
    encode_id(b"GET", std::iter::empty())
}

/// What a write through this client invalidates before it is sent and
/// when its reply arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteEffect {
    /// Not a write: nothing.
    None,
    /// These keys.
    Keys(Vec<Bytes>),
    /// Everything (`FLUSHALL`, `FLUSHDB`, `SWAPDB`, and writes whose keys
    /// the table cannot name).
    All,
}

/// The effect of `c` on the cache (see [`WriteEffect`]).
pub(crate) fn write_effect(c: &Cmd) -> WriteEffect {
    if c.is("FLUSHALL") || c.is("FLUSHDB") || c.is("SWAPDB") {
        return WriteEffect::All;
    }
    let info = crate::cmd::command_info(c);
    if !info.is_write() {
        return WriteEffect::None;
    }
    let keys: Vec<Bytes> = info.keys.keys_in(c).map(Bytes::copy_from_slice).collect();
    if keys.is_empty() {
        // Scripts and functions name their keys; a keyless write (or one
        // the table cannot read) changes nothing the cache can name, and
        // the server's invalidations cover it.
        WriteEffect::None
    } else {
        WriteEffect::Keys(keys)
    }
}

/// What an invalidation message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invalidation {
    /// These keys changed.
    Keys(Vec<Bytes>),
    /// Everything (`FLUSHALL` / `FLUSHDB`: the server sends a null).
    All,
}

/// Reads an invalidation from a RESP3 push (`["invalidate", keys | null]`)
/// or a RESP2 message on `__redis__:invalidate`
/// (`["message", "__redis__:invalidate", keys | null]`). Anything else is `None`.
pub(crate) fn parse_invalidation(frame: &Frame) -> Option<Invalidation> {
    let (Frame::Push(items) | Frame::Array(items)) = frame else { return None };
    let kind = items.first()?.as_bytes()?;
    let payload = if kind.eq_ignore_ascii_case(b"invalidate") {
        items.get(1)?
    } else if kind.eq_ignore_ascii_case(b"message")
        && items.get(1)?.as_bytes()?.eq_ignore_ascii_case(b"__redis__:invalidate")
    {
        items.get(2)?
    } else {
        return None;
    };
    match payload {
        Frame::Array(keys) | Frame::Set(keys) => {
            Some(Invalidation::Keys(keys.iter().filter_map(|k| k.as_bytes().cloned()).collect()))
        }
        // A single key as a bulk string is not what servers send, but it
        // names one key unambiguously.
        Frame::BulkString(k) => Some(Invalidation::Keys(vec![k.clone()])),
        f if f.is_null() => Some(Invalidation::All),
        // A shape we do not know: flushing everything is the safe reading.
        _ => Some(Invalidation::All),
    }
}

/// Bytes a reply holds, roughly: payloads plus 16 per value.
pub(crate) fn frame_bytes(frame: &Frame) -> usize {
    match frame {
        Frame::Array(items) | Frame::Push(items) | Frame::Set(items) => {
            items.iter().fold(16, |sum, f| sum.saturating_add(frame_bytes(f)))
        }
        Frame::Map(pairs) => pairs
            .iter()
            .fold(16, |sum, (k, v)| sum.saturating_add(frame_bytes(k)).saturating_add(frame_bytes(v))),
        other => other.as_bytes().map_or(16, |b| b.len().saturating_add(16)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    #[test]
    fn the_table_says_what_is_cached() {
        for c in [
            cmd("GET").arg("k"),
            cmd("get").arg("k"),
            cmd("HGET").arg("h").arg("f"),
            cmd("HGETALL").arg("h"),
            cmd("HMGET").arg("h").arg("a").arg("b"),
            cmd("EXISTS").arg("k"),
            cmd("STRLEN").arg("k"),
            cmd("SMEMBERS").arg("s"),
            cmd("ZSCORE").arg("z").arg("m"),
            cmd("LRANGE").arg("l").arg(0).arg(-1),
            cmd("ZRANGE").arg("z").arg(0).arg(-1),
            cmd("TYPE").arg("k"),
        ] {
            assert_eq!(kind(&c), Kind::Read, "{:?}", String::from_utf8_lossy(c.name()));
        }
        assert_eq!(kind(&cmd("MGET").arg("a").arg("b")), Kind::Mget);
        for c in [
            cmd("SET").arg("k").arg("v"),
            cmd("EXISTS").arg("a").arg("b"),
            cmd("GET"),
            cmd("GET").arg("a").arg("b"),
            cmd("HGET").arg("h"),
            cmd("SRANDMEMBER").arg("s"),
            cmd("TTL").arg("k"),
            cmd("GETEX").arg("k"),
            cmd("GETDEL").arg("k"),
            cmd("PING"),
            cmd("MGET"),
        ] {
            assert_eq!(kind(&c), Kind::Other, "{:?}", String::from_utf8_lossy(c.name()));
        }
    }

    #[test]
    fn ids_tell_commands_and_arguments_apart() {
        let get = encode_id(b"get", std::iter::empty());
        assert!(id_matches(&get, b"GET", std::iter::empty()));
        assert!(id_matches(&get_id(), b"Get", std::iter::empty()));
        let hget_a = encode_id(b"HGET", [&b"a"[..]].into_iter());
        assert!(id_matches(&hget_a, b"hget", [&b"a"[..]].into_iter()));
        assert!(!id_matches(&hget_a, b"HGET", [&b"b"[..]].into_iter()));
        assert!(!id_matches(&hget_a, b"HGET", std::iter::empty()));
        assert!(!id_matches(&hget_a, b"HGET", [&b"a"[..], b""].into_iter()));
        assert!(!id_matches(&get, b"HGET", std::iter::empty()));
        // Length prefixes keep ("ab") and ("a", "b") apart.
        let ab = encode_id(b"HMGET", [&b"ab"[..]].into_iter());
        assert!(!id_matches(&ab, b"HMGET", [&b"a"[..], b"b"].into_iter()));
    }

    #[test]
    fn writes_name_their_keys() {
        assert_eq!(
            write_effect(&cmd("SET").arg("k").arg("v")),
            WriteEffect::Keys(vec![Bytes::from_static(b"k")])
        );
        assert_eq!(
            write_effect(&cmd("DEL").arg("a").arg("b")),
            WriteEffect::Keys(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")])
        );
        assert_eq!(
            write_effect(&cmd("HSET").arg("h").arg("f").arg("v")),
            WriteEffect::Keys(vec![Bytes::from_static(b"h")])
        );
        assert_eq!(write_effect(&cmd("FLUSHALL")), WriteEffect::All);
        assert_eq!(write_effect(&cmd("GET").arg("k")), WriteEffect::None);
        assert_eq!(write_effect(&cmd("PING")), WriteEffect::None);
    }

    fn bulk(s: &'static [u8]) -> Frame {
        Frame::BulkString(Bytes::from_static(s))
    }

    #[test]
    fn invalidations_are_read_from_both_protocols() {
        let resp3 = Frame::Push(vec![bulk(b"invalidate"), Frame::Array(vec![bulk(b"k1"), bulk(b"k2")])]);
        assert_eq!(
            parse_invalidation(&resp3),
            Some(Invalidation::Keys(vec![Bytes::from_static(b"k1"), Bytes::from_static(b"k2")]))
        );
        assert_eq!(
            parse_invalidation(&Frame::Push(vec![bulk(b"invalidate"), Frame::Null])),
            Some(Invalidation::All)
        );
        let resp2 = Frame::Array(vec![
            bulk(b"message"),
            bulk(b"__redis__:invalidate"),
            Frame::Array(vec![bulk(b"k")]),
        ]);
        assert_eq!(parse_invalidation(&resp2), Some(Invalidation::Keys(vec![Bytes::from_static(b"k")])));
        let resp2_flush =
            Frame::Array(vec![bulk(b"message"), bulk(b"__redis__:invalidate"), Frame::NullArray]);
        assert_eq!(parse_invalidation(&resp2_flush), Some(Invalidation::All));
        let other = Frame::Array(vec![bulk(b"message"), bulk(b"news"), bulk(b"hi")]);
        assert_eq!(parse_invalidation(&other), None);
        assert_eq!(parse_invalidation(&bulk(b"x")), None);
    }
}
